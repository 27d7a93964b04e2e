//! Subscribing, reading, and the subscriber's pause, resume and cancel. Each action is one
//! transaction whose conditional update decides it, with the period's money in it.

use super::billing;
use super::model::*;
use super::store::{self, NewSubscription};
use super::SubscriptionError;
use crate::agents::model::AgentStatus;
use crate::agents::store as agents;
use crate::db::page::{BadQuery, Page, PageMeta};
use crate::db::sql::Changes;
use crate::db::{new_id, now_ms};
use crate::executions::service as executions;
use crate::idempotency::Answer;
use crate::marketplace::services::model::{Fulfilment, ServiceType};
use crate::marketplace::services::store as services;
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};

/// Runs a subscription's view shows.
const RECENT_RUNS: i64 = 20;

/// Subscribes the buyer: the first period's price is held from its wallet (402 when short),
/// and the first run is due at once.
pub async fn subscribe(
    app: &App,
    buyer_id: &str,
    req: &NewSubscriptionRequest,
    answer: Answer<'_, SubscriptionRow>,
) -> Result<SubscriptionRow, SubscriptionError> {
    let input = validate::optional_text("input", &req.input, 100_000)?;
    let service = services::get(&app.db, req.service_id.trim()).await?.ok_or(SubscriptionError::ServiceNotFound)?;
    if service.kind() != ServiceType::Subscription {
        return Err(fail("serviceId", "only a SUBSCRIPTION service is subscribed to; a ONE_OFF one is hired").into());
    }
    if service.agent_id == buyer_id {
        return Err(fail("serviceId", "you cannot subscribe to your own service").into());
    }
    let provider = agents::get(&app.db, &service.agent_id).await?.ok_or(SubscriptionError::ServiceNotFound)?;
    if service.active != 1 || provider.standing() != AgentStatus::Active {
        return Err(SubscriptionError::Unavailable("this service is no longer offered".into()));
    }
    if service.fulfilled_by() == Fulfilment::Component {
        executions::component_runner(app, &provider).await?;
    }
    let interval = service.run_interval_hours.unwrap_or(24);
    let id = new_id();
    transaction!(app.db, |c| async {
        let new = NewSubscription {
            id: &id,
            service_id: &service.id,
            buyer_id,
            provider_id: &service.agent_id,
            price_cents: service.price_cents,
            run_interval_hours: interval,
            input: &input,
        };
        store::insert(c, &new).await?;
        let row = store::get_in(c, &id).await?.ok_or(SubscriptionError::NotFound)?;
        let now = now_ms();
        billing::open_period_in(c, app, &row, SubscriptionStatus::Active, now, Some(now)).await?;
        let row = store::get_in(c, &id).await?.ok_or(SubscriptionError::NotFound)?;
        answer.record_in(c, &row).await?;
        Ok::<_, SubscriptionError>(row)
    })
}

/// The subscription, if `agent_id` is its subscriber or provider; anyone else is told it does
/// not exist.
pub async fn get(app: &App, agent_id: &str, id: &str) -> Result<SubscriptionRow, SubscriptionError> {
    match store::get(&app.db, id).await? {
        Some(s) if s.buyer_id == agent_id || s.provider_id == agent_id => Ok(s),
        _ => Err(SubscriptionError::NotFound),
    }
}

pub async fn recent_runs(app: &App, id: &str) -> Result<Vec<RunRow>, SubscriptionError> {
    Ok(store::recent_runs(&app.db, id, RECENT_RUNS).await?)
}

pub struct SubscriptionPage {
    pub subscriptions: Vec<SubscriptionRow>,
    pub meta: PageMeta,
}

pub async fn list(app: &App, agent_id: &str, q: &SubscriptionQuery) -> Result<SubscriptionPage, SubscriptionError> {
    let as_provider = match q.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None | Some("buyer") => false,
        Some("provider") => true,
        Some(_) => return Err(BadQuery("role must be buyer or provider".into()).into()),
    };
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => {
            Some(s.to_uppercase().parse::<SubscriptionStatus>().map_err(|_| BadQuery(format!("unknown status {s}")))?)
        }
        None => None,
    };
    let page = Page::parse(q.limit, q.offset, q.cursor.as_deref())?;
    let (rows, total) = store::list(&app.db, agent_id, as_provider, status, &page).await?;
    let (subscriptions, meta) = page.cut(rows, total, |s| (s.created_at, s.id.clone()));
    Ok(SubscriptionPage { subscriptions, meta })
}

/// The subscriber pauses (the period ends now, pro rata; no runs), resumes (a new period is
/// held and a run is due at once; 402 when short) or cancels (for good; pro rata if active).
pub async fn act(
    app: &App,
    agent_id: &str,
    id: &str,
    req: &SubscriptionActionRequest,
    answer: Answer<'_, SubscriptionRow>,
) -> Result<SubscriptionRow, SubscriptionError> {
    let action = req
        .action
        .trim()
        .to_lowercase()
        .parse::<SubscriptionAction>()
        .map_err(|_| fail("action", "must be pause, resume or cancel"))?;
    let sub = get(app, agent_id, id).await?;
    if sub.buyer_id != agent_id {
        return Err(SubscriptionError::NotSubscriber);
    }
    use SubscriptionStatus::*;
    let from: &[SubscriptionStatus] = match action {
        SubscriptionAction::Pause => &[Active],
        SubscriptionAction::Resume => &[Paused],
        SubscriptionAction::Cancel => &[Active, Paused],
    };
    let refused = || SubscriptionError::Transition { action: action.as_str(), status: sub.status.clone() };
    if !from.contains(&sub.state()) {
        return Err(refused());
    }
    transaction!(app.db, |c| async {
        let now = now_ms();
        match action {
            SubscriptionAction::Resume => {
                // Only from PAUSED: of two concurrent resumes one holds a period, the other is
                // refused and its hold rolled back.
                if !billing::open_period_in(c, app, &sub, Paused, now, Some(now)).await? {
                    return Err(refused());
                }
            }
            SubscriptionAction::Pause | SubscriptionAction::Cancel => {
                let to = if action == SubscriptionAction::Pause { Paused } else { Cancelled };
                let mut changes = Changes::default()
                    .text("status", to.as_str())
                    .no_text("hold_id")
                    .no_int("period_start")
                    .no_int("next_run_at")
                    .no_int("next_billing_at")
                    .int("compute_cents", 0);
                changes = match to {
                    Paused => changes.text("paused_reason", "buyer").stamp("paused_at"),
                    _ => changes.stamp("cancelled_at"),
                };
                // The period as it is now (a run may have added compute since the read above),
                // updated only as read: a concurrent action or renewal makes this one a conflict.
                let current = store::get_in(c, id).await?.ok_or(SubscriptionError::NotFound)?;
                if !from.contains(&current.state()) {
                    return Err(refused());
                }
                if !store::update(c, id, &[current.state()], current.hold_id.as_deref(), &changes).await? {
                    return Err(refused());
                }
                billing::close_period_in(c, app, &current, billing::earned_by(app, &current, now)).await?;
            }
        }
        let row = store::get_in(c, id).await?.ok_or(SubscriptionError::NotFound)?;
        answer.record_in(c, &row).await?;
        Ok(row)
    })
}
