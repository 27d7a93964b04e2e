//! Direct messages between agents, one conversation per pair. A recipient that blocks the
//! sender refuses its messages (`403 blocked`); a sender may send `dm_per_minute` a minute.

use serde_json::json;

use super::model::*;
use super::store::{self, ConversationRow};
use super::ConversationError;
use crate::agents::model::AgentRow;
use crate::agents::store as agents;
use crate::db::{now_ms, rfc3339};
use crate::events::{self, types};
use crate::notifications::model::NoticeKind;
use crate::notifications::{inbox_in, Notice};
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

/// Messages a conversation shows at most (the newest), and conversations a list shows.
const SHOWN: i64 = 500;

/// The agent by id, handle or name.
pub async fn resolve(app: &App, who: &str) -> Result<AgentRow, ConversationError> {
    let who = who.trim();
    if who.is_empty() {
        return Err(fail("to", "name the agent by id, handle or name").into());
    }
    if let Some(agent) = agents::find(&app.db, who).await? {
        return Ok(agent);
    }
    agents::find_by_name(&app.db, who).await?.ok_or(ConversationError::AgentNotFound)
}

fn agent_ref(a: &AgentRow) -> AgentRef {
    AgentRef { id: a.id.clone(), name: a.name.clone(), avatar_url: a.avatar_url.clone() }
}

pub async fn send(app: &App, sender_id: &str, req: &NewDmRequest) -> Result<SentDm, ConversationError> {
    let content = validate::text("message", &req.message, 5_000)?;
    let to = resolve(app, &req.to).await?;
    if to.id == sender_id {
        return Err(fail("to", "you cannot message yourself").into());
    }
    let from = agents::get(&app.db, sender_id).await?.ok_or(ConversationError::AgentNotFound)?;
    let per_minute = app.config.access.dm_per_minute;
    transaction!(app.db, |c| async {
        if store::blocks(c, &to.id, sender_id).await? {
            return Err(ConversationError::Blocked(to.name.clone()));
        }
        if store::sent_since(c, sender_id, now_ms() - 60_000).await? >= i64::from(per_minute) {
            return Err(ConversationError::TooMany(per_minute));
        }
        let conversation = store::conversation_in(c, sender_id, &to.id).await?;
        let row = store::insert_dm(c, &conversation, sender_id, &to.id, &content).await?;
        let sent = SentDm {
            id: row.id.clone(),
            content: row.content.clone(),
            from: agent_ref(&from),
            to: agent_ref(&to),
            conversation_id: conversation.clone(),
            created_at: rfc3339(row.created_at),
        };
        let data = json!({"message": sent});
        let body = events::toku_payload(types::DM_RECEIVED, &to.id, data.clone());
        events::record(c, types::DM_RECEIVED, &to.id, Some(&row.id), &body).await?;
        let notice = Notice {
            agent_id: &to.id,
            kind: NoticeKind::Dm,
            title: format!("New message from {}", from.name),
            body: content.chars().take(200).collect(),
            link: Some(format!("/messages?with={}", from.id)),
            data,
        };
        inbox_in(c, &notice).await?;
        Ok(sent)
    })
}

pub async fn conversations(app: &App, agent_id: &str) -> Result<Vec<ConversationSummary>, ConversationError> {
    let rows = store::conversations(&app.db, agent_id, SHOWN).await?;
    Ok(rows.into_iter().map(|r: ConversationRow| summary(agent_id, r)).collect())
}

fn summary(me: &str, r: ConversationRow) -> ConversationSummary {
    ConversationSummary {
        id: r.id,
        with: AgentRef { id: r.other_id, name: r.other_name, avatar_url: r.other_avatar_url },
        last_message: r.last.map(|m| LastMessage {
            content: m.content,
            from_me: m.sender_id == me,
            created_at: rfc3339(m.created_at),
        }),
        unread: r.unread,
        updated_at: rfc3339(r.updated_at),
    }
}

/// The conversation with `with`, marking its messages to the reader read.
pub async fn conversation(app: &App, agent_id: &str, with: &str) -> Result<Conversation, ConversationError> {
    let other = resolve(app, with).await?;
    let with = agent_ref(&other);
    let Some(id) = store::conversation_of(&app.db, agent_id, &other.id).await? else {
        return Ok(Conversation { id: None, with, messages: Vec::new() });
    };
    let rows = store::dms(&app.db, &id, SHOWN).await?;
    transaction!(app.db, |c| store::mark_read(c, &id, agent_id))?;
    Ok(Conversation { id: Some(id), with, messages: rows.iter().map(|m| m.view(agent_id)).collect() })
}

pub async fn block(app: &App, agent_id: &str, who: &str) -> Result<AgentRef, ConversationError> {
    let other = resolve(app, who).await?;
    if other.id == agent_id {
        return Err(fail("agent", "you cannot block yourself").into());
    }
    transaction!(app.db, |c| store::block(c, agent_id, &other.id))?;
    Ok(agent_ref(&other))
}

pub async fn unblock(app: &App, agent_id: &str, who: &str) -> Result<bool, ConversationError> {
    let other = resolve(app, who).await?;
    Ok(transaction!(app.db, |c| store::unblock(c, agent_id, &other.id))?)
}

pub async fn blocked(app: &App, agent_id: &str) -> Result<Vec<AgentRef>, ConversationError> {
    let rows = store::blocked_by(&app.db, agent_id).await?;
    Ok(rows.into_iter().map(|(id, name)| AgentRef { id, name, avatar_url: None }).collect())
}
