//! Posting to the feed, reading it, deleting and pinning.

use serde_json::json;

use super::model::*;
use super::store::{self, After};
use super::FeedError;
use crate::db::page::BadQuery;
use crate::db::{now_ms, Conn};
use crate::notifications::model::NoticeKind;
use crate::notifications::{notify_in, Notice};
use crate::state::App;
use crate::transaction;
use crate::validate;

/// Agents one post may mention (the first ones named).
const MAX_MENTIONS: usize = 20;

/// The handles `@mentioned` in `content`, lowercased, each once, in order.
pub fn mentions(content: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for (i, _) in content.match_indices('@') {
        let before = content[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric()) {
            continue; // an e-mail address, not a mention
        }
        let handle: String = content[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<String>()
            .to_lowercase();
        if !handle.is_empty() && !found.contains(&handle) && found.len() < MAX_MENTIONS {
            found.push(handle);
        }
    }
    found
}

/// Posts the agent's message; the agents it mentions are told (`mention`).
pub async fn post(app: &App, agent_id: &str, content: &str) -> Result<FeedRow, FeedError> {
    let content = validate::text("content", content, 1_000)?;
    let interval = app.config.access.feed_post_interval_secs;
    let handles = mentions(&content);
    transaction!(app.db, |c| async {
        if let Some(last) = store::last_message_at(c, agent_id).await? {
            let next = last + i64::from(interval) * 1_000;
            if next > now_ms() {
                return Err(FeedError::TooSoon(interval, ((next - now_ms()) / 1_000) as u64 + 1));
            }
        }
        let id = store::insert_in(c, agent_id, PostKind::Message, &content, None).await?;
        let row = store::get_in(c, &id).await?.ok_or(FeedError::NotFound)?;
        for (mentioned, _) in store::agents_by_handle(c, &handles).await? {
            if mentioned == agent_id {
                continue;
            }
            let notice = Notice {
                agent_id: &mentioned,
                kind: NoticeKind::Mention,
                title: format!("{} mentioned you", row.agent_name),
                body: content.clone(),
                link: Some(format!("/feed/{id}")),
                data: json!({"postId": id, "from": {"id": agent_id, "name": row.agent_name}, "content": content}),
            };
            notify_in(c, &notice).await?;
        }
        Ok(row)
    })
}

/// A post the platform writes about what happened in the marketplace, in the caller's
/// transaction.
pub async fn announce_in(
    c: &mut Conn,
    agent_id: &str,
    kind: PostKind,
    content: &str,
    ref_id: &str,
) -> Result<(), sqlx::Error> {
    store::insert_in(c, agent_id, kind, content, Some(ref_id)).await.map(drop)
}

pub struct FeedPage {
    pub posts: Vec<FeedRow>,
    pub has_more: bool,
}

pub async fn list(app: &App, q: &FeedQuery) -> Result<FeedPage, FeedError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(BadQuery("limit must be 1 to 100".into()).into());
    }
    let kind = match q.kind.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => Some(k.to_uppercase().parse::<PostKind>().map_err(|_| BadQuery(format!("unknown type {k}")))?),
        None => None,
    };
    let after = match q.before.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
        Some(id) => {
            let post =
                store::get(&app.db, id).await?.ok_or_else(|| BadQuery(format!("no feed post {id} to page from")))?;
            Some(After { pinned: post.pinned, created_at: post.created_at, id: post.id })
        }
        None => None,
    };
    let agent = q.agent_id.as_deref().map(str::trim).filter(|a| !a.is_empty());
    let mut posts = store::page(&app.db, kind, agent, after.as_ref(), limit + 1).await?;
    let has_more = posts.len() as i64 > limit;
    posts.truncate(limit as usize);
    Ok(FeedPage { posts, has_more })
}

/// Deletes the agent's own MESSAGE post.
pub async fn delete(app: &App, agent_id: &str, id: &str) -> Result<(), FeedError> {
    let post = store::get(&app.db, id).await?.ok_or(FeedError::NotFound)?;
    if post.agent_id != agent_id || post.kind != PostKind::Message.as_str() {
        return Err(FeedError::NotYours("only your own MESSAGE posts can be deleted"));
    }
    transaction!(app.db, |c| store::delete(c, id))?;
    Ok(())
}

/// An operator pins a post to the top of the feed, or unpins it.
pub async fn pin(app: &App, id: &str, pinned: bool) -> Result<FeedRow, FeedError> {
    if !transaction!(app.db, |c| store::set_pinned(c, id, pinned))? {
        return Err(FeedError::NotFound);
    }
    store::get(&app.db, id).await?.ok_or(FeedError::NotFound)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mentions_are_handles_after_an_at_sign() {
        let found = super::mentions("Thanks @lily and @Code-Bot_2! Mail me at me@example.com, @lily again. @");
        assert_eq!(found, ["lily", "code-bot_2"]);
    }
}
