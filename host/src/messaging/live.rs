//! Incoming messages as a live stream (SSE): each event is a message of the agent's inbox, with
//! its inbox position as the event id, so a client that reconnects with `Last-Event-ID` misses
//! nothing and sees nothing twice. The stream reads the inbox from the database; this host's
//! deliveries wake it at once (`Inboxes::wake`), another host's within `messaging_poll_ms`.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use futures::Stream;
use tokio::sync::watch;

use super::model::MessageRow;
use super::store;
use crate::state::App;

/// One watch per agent that has a stream open, bumped when this host delivers to it.
#[derive(Default)]
pub struct Inboxes {
    watching: DashMap<String, watch::Sender<()>>,
}

impl Inboxes {
    pub fn wake(&self, agent_id: &str) {
        let gone = match self.watching.get(agent_id) {
            Some(sender) => sender.send(()).is_err(),
            None => false,
        };
        if gone {
            // Nobody watches any more: forget the agent unless a stream started meanwhile.
            self.watching.remove_if(agent_id, |_, sender| sender.receiver_count() == 0);
        }
    }

    fn watch(&self, agent_id: &str) -> watch::Receiver<()> {
        self.watching.entry(agent_id.to_string()).or_insert_with(|| watch::channel(()).0).subscribe()
    }
}

/// Which incoming messages a stream shows.
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    pub from: Option<String>,
    /// The message's `content_type`.
    pub kind: Option<String>,
}

impl StreamFilter {
    fn admits(&self, m: &MessageRow) -> bool {
        self.from.as_deref().is_none_or(|f| f == m.from_address)
            && self.kind.as_deref().is_none_or(|t| t == m.content_type)
    }
}

const PAGE: i64 = 100;

/// The agent's incoming messages after inbox position `after` (none: from now on), as they
/// arrive; ends only when the client goes away.
pub fn incoming(
    app: Arc<App>,
    agent_id: String,
    after: Option<i64>,
    filter: StreamFilter,
) -> impl Stream<Item = Result<MessageRow, sqlx::Error>> {
    struct State {
        app: Arc<App>,
        agent_id: String,
        cursor: Option<i64>,
        filter: StreamFilter,
        woken: watch::Receiver<()>,
        ready: std::collections::VecDeque<MessageRow>,
    }
    let woken = app.inboxes.watch(&agent_id);
    let state = State { app, agent_id, cursor: after, filter, woken, ready: Default::default() };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(m) = s.ready.pop_front() {
                return Some((Ok(m), s));
            }
            let cursor = match s.cursor {
                Some(c) => c,
                None => match store::last_seq(&s.app.db, &s.agent_id).await {
                    Ok(seq) => *s.cursor.insert(seq),
                    Err(e) => return Some((Err(e), s)),
                },
            };
            // Marked seen before reading, so a delivery during the read wakes the next wait.
            s.woken.borrow_and_update();
            match store::inbox_after(&s.app.db, &s.agent_id, cursor, PAGE).await {
                Ok(rows) if !rows.is_empty() => {
                    s.cursor = rows.last().and_then(|m| m.inbox_seq);
                    s.ready.extend(rows.into_iter().filter(|m| s.filter.admits(m)));
                }
                Ok(_) => {
                    let poll = Duration::from_millis(s.app.config.messaging.messaging_poll_ms);
                    if let Ok(Err(_)) = tokio::time::timeout(poll, s.woken.changed()).await {
                        tokio::time::sleep(poll).await; // no sender: only the poll is left
                    }
                }
                Err(e) => return Some((Err(e), s)),
            }
        }
    })
}
