//! Incoming messages as a live stream (SSE): each event is a message of the agent's inbox, or a
//! chunk of a stream to it, with its inbox position as the event id, so a client that reconnects with `Last-Event-ID` misses
//! nothing and sees nothing twice. The stream reads the inbox from the database; this host's
//! deliveries wake it at once (`App::inboxes`), another host's within `messaging_poll_ms`.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::watch;

use super::model::MessageRow;
use super::store;
use super::streams::ChunkRow;
use crate::state::App;

/// Which incoming messages a stream shows.
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    pub from: Option<String>,
    /// The message's `content_type`.
    pub kind: Option<String>,
}

impl StreamFilter {
    fn admits(&self, event: &InboxEvent) -> bool {
        match event {
            InboxEvent::Message(m) => {
                self.from.as_deref().is_none_or(|f| f == m.from_address)
                    && self.kind.as_deref().is_none_or(|t| t == m.content_type)
            }
            InboxEvent::Chunk(c) => self.from.as_deref().is_none_or(|f| f == c.from_address),
        }
    }
}

/// What an inbox position holds.
pub enum InboxEvent {
    Message(Box<MessageRow>),
    Chunk(ChunkRow),
}

impl InboxEvent {
    pub fn seq(&self) -> i64 {
        match self {
            InboxEvent::Message(m) => m.inbox_seq.unwrap_or_default(),
            InboxEvent::Chunk(c) => c.inbox_seq,
        }
    }
}

/// The inbox after `after`: messages and chunks in position order, at most a page of each and
/// never past the end of a full page (what lies beyond it comes in the next read).
async fn read_after(app: &App, agent_id: &str, after: i64) -> Result<Vec<InboxEvent>, sqlx::Error> {
    let messages = store::inbox_after(&app.db, agent_id, after, PAGE).await?;
    let chunks = store::chunks_after(&app.db, agent_id, after, PAGE).await?;
    let mut horizon = i64::MAX;
    if messages.len() as i64 == PAGE {
        horizon = horizon.min(messages.last().and_then(|m| m.inbox_seq).unwrap_or(i64::MAX));
    }
    if chunks.len() as i64 == PAGE {
        horizon = horizon.min(chunks.last().map_or(i64::MAX, |c| c.inbox_seq));
    }
    let mut events: Vec<InboxEvent> = messages
        .into_iter()
        .map(|m| InboxEvent::Message(Box::new(m)))
        .chain(chunks.into_iter().map(InboxEvent::Chunk))
        .collect();
    events.retain(|e| e.seq() <= horizon);
    events.sort_by_key(InboxEvent::seq);
    Ok(events)
}

const PAGE: i64 = 100;

/// The agent's incoming messages after inbox position `after` (none: from now on), as they
/// arrive; ends only when the client goes away.
pub fn incoming(
    app: Arc<App>,
    agent_id: String,
    after: Option<i64>,
    filter: StreamFilter,
) -> impl Stream<Item = Result<InboxEvent, sqlx::Error>> {
    struct State {
        app: Arc<App>,
        agent_id: String,
        cursor: Option<i64>,
        filter: StreamFilter,
        woken: watch::Receiver<()>,
        stopping: watch::Receiver<bool>,
        ready: std::collections::VecDeque<InboxEvent>,
    }
    let woken = app.inboxes.watch(&agent_id);
    let stopping = app.stopping.subscribe();
    let state = State { app, agent_id, cursor: after, filter, woken, stopping, ready: Default::default() };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if *s.stopping.borrow() {
                return None; // the server stops: the client reconnects elsewhere or later
            }
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
            match read_after(&s.app, &s.agent_id, cursor).await {
                Ok(events) if !events.is_empty() => {
                    s.cursor = events.last().map(InboxEvent::seq);
                    s.ready.extend(events.into_iter().filter(|e| s.filter.admits(e)));
                }
                Ok(_) => {
                    let poll = Duration::from_millis(s.app.config.messaging.messaging_poll_ms);
                    tokio::select! {
                        woken = tokio::time::timeout(poll, s.woken.changed()) => {
                            if let Ok(Err(_)) = woken {
                                tokio::time::sleep(poll).await; // no sender: only the poll is left
                            }
                        }
                        _ = s.stopping.changed() => {}
                    }
                }
                Err(e) => return Some((Err(e), s)),
            }
        }
    })
}
