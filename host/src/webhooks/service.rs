//! Webhook operations: an agent's URL and secrets, the test delivery, the deliveries log and
//! replays.

use super::model::{DeliveryRow, DeliveryStatus, Endpoint};
use super::{deliver, signing, store, WebhookError};
use crate::agents::service as agents;
use crate::agents::store as agent_store;
use crate::db::page::Page;
use crate::db::sql::Arg;
use crate::db::{new_id, now_ms};
use crate::events::{self, types};
use crate::state::App;
use crate::transaction;

/// How long a rotated-out secret still signs deliveries.
pub const PREVIOUS_SECRET_VALID_MS: i64 = 24 * 3600 * 1000;

/// The agent's secrets, made on first use.
pub async fn secrets(app: &App, agent_id: &str) -> Result<Endpoint, WebhookError> {
    if let Some(secrets) = store::secrets(&app.db, agent_id).await? {
        return Ok(secrets);
    }
    Ok(transaction!(app.db, |c| store::ensure_secrets(c, agent_id, &signing::new_secret()))?)
}

/// Sets the agent's webhook URL; returns it and the secret deliveries are signed with.
pub async fn set(app: &App, agent_id: &str, url: &str) -> Result<(String, Endpoint), WebhookError> {
    agents::set_webhook(app, agent_id, url).await?;
    let url = agents::get(app, agent_id).await?.webhook_url.unwrap_or_default();
    // Setting the URL again is how an endpoint disabled for failing comes back.
    let endpoint = transaction!(app.db, |c| async {
        store::enable(c, agent_id).await?;
        store::ensure_secrets(c, agent_id, &signing::new_secret()).await
    })?;
    Ok((url, endpoint))
}

/// The agent's webhook URL and, when it has one, its secrets.
pub async fn config(app: &App, agent_id: &str) -> Result<(Option<String>, Option<Endpoint>), WebhookError> {
    let url = agents::get(app, agent_id).await?.webhook_url;
    let secrets = match url {
        Some(_) => Some(secrets(app, agent_id).await?),
        None => None,
    };
    Ok((url, secrets))
}

/// Removes the agent's webhook URL; pending deliveries fail at their next attempt. True if it
/// had one.
pub async fn remove(app: &App, agent_id: &str) -> Result<bool, WebhookError> {
    let had = agents::get(app, agent_id).await?.webhook_url.is_some();
    transaction!(app.db, |c| agent_store::update(c, agent_id, vec![("webhook_url", Arg::Null)]))?;
    Ok(had)
}

/// A new secret; the old one keeps signing (beside the new one) for 24 hours.
pub async fn rotate(app: &App, agent_id: &str) -> Result<(String, i64), WebhookError> {
    let fresh = signing::new_secret();
    let until = now_ms() + PREVIOUS_SECRET_VALID_MS;
    transaction!(app.db, |c| async {
        store::ensure_secrets(c, agent_id, &signing::new_secret()).await?;
        store::rotate(c, agent_id, &fresh, until).await
    })?;
    Ok((fresh, until))
}

/// What the test delivery got.
pub struct Tested {
    pub url: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub payload: serde_json::Value,
}

/// Sends `webhook.test` now, once, and records it as a delivery with its attempt.
pub async fn test(app: &App, agent_id: &str) -> Result<Tested, WebhookError> {
    let url = agents::get(app, agent_id).await?.webhook_url.ok_or(WebhookError::NoWebhook)?;
    let payload = deliver::test_payload(agent_id);
    let (delivery_id, subject) = (new_id(), new_id());
    transaction!(app.db, |c| async {
        let event = events::insert(c, types::WEBHOOK_TEST, agent_id, Some(&subject), &payload).await?;
        store::insert_delivery(c, &delivery_id, &event.unwrap_or_default(), agent_id, types::WEBHOOK_TEST, false).await
    })?;
    let secrets = secrets(app, agent_id).await?;
    // The same text `events::insert` stored.
    let body = payload.to_string();
    let message = deliver::Message { id: &delivery_id, event_type: types::WEBHOOK_TEST, body: body.as_bytes() };
    let sent = deliver::send(app, message, &url, &secrets).await;
    let status = if sent.error.is_none() { DeliveryStatus::Delivered } else { DeliveryStatus::Failed };
    let attempt = sent.attempt(&delivery_id, &url);
    let outcome = store::Outcome { status, next_attempt_at: None, owner: None };
    transaction!(app.db, |c| store::record_attempt(c, &attempt, &outcome))?;
    Ok(Tested { url, status_code: sent.status_code, error: sent.error, payload })
}

pub async fn deliveries(
    app: &App,
    agent_id: &str,
    status: Option<DeliveryStatus>,
    event: Option<&str>,
    page: &Page,
) -> Result<(Vec<DeliveryRow>, i64), WebhookError> {
    Ok(store::list(&app.db, agent_id, status, event, page).await?)
}

/// One of the agent's deliveries with its attempts; others' are not found.
pub async fn delivery(
    app: &App,
    agent_id: &str,
    id: &str,
) -> Result<(DeliveryRow, Vec<super::model::AttemptRow>), WebhookError> {
    let row = store::get(&app.db, agent_id, id).await?.ok_or(WebhookError::NotFound)?;
    let attempts = store::attempts(&app.db, id).await?;
    Ok((row, attempts))
}

/// Sends one of the agent's deliveries again (whatever its status), with a fresh schedule of
/// attempts after this one.
pub async fn retry(app: &App, agent_id: &str, id: &str) -> Result<DeliveryRow, WebhookError> {
    if !transaction!(app.db, |c| store::reopen(c, agent_id, id))? {
        return Err(WebhookError::NotFound);
    }
    store::get(&app.db, agent_id, id).await?.ok_or(WebhookError::NotFound)
}
