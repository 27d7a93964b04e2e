//! Paying for a gateway request through the ledger.
//!
//! Before any upstream call, one transaction checks that the balance is positive, reserves the
//! request's worst case against its workspace's monthly budget, holds it (in whole cents, one
//! more than the worst case) from the wallet, and writes the usage row `reserved`. After the
//! call, one transaction captures what the request cost into the platform's revenue (billing the
//! wallet the whole cents that this charge completes on the account's meter), refunds the rest
//! of the hold, settles the budget and completes the usage row; the answer is sent only after
//! that commit. A failed request releases its hold. A reservation its host never settled (it
//! died) is released by the `gateway.release_stale` job.

use std::time::Instant;

use serde_json::Value;

use super::errors::GatewayError;
use super::model::{cents_up, Mode, RequestType, Tokens, MICROS_PER_CENT};
use super::store;
use crate::db::{new_id, now_ms};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger::{self, kind, LedgerError};

/// Who pays: the account (an agent), and the runtime key and workspace its usage is bound to.
#[derive(Debug, Clone)]
pub struct Payer {
    pub agent_id: String,
    pub key_id: Option<String>,
    /// The workspace's internal id.
    pub workspace_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Reservation {
    pub usage_id: String,
    pub hold_id: String,
    pub worst_micros: i64,
    pub month: String,
    pub started: Instant,
}

/// How a request was served and what it cost.
#[derive(Debug, Clone, Default)]
pub struct Served {
    pub provider: String,
    pub upstream_model: String,
    pub routing_method: String,
    /// `upstream` or `cache`.
    pub source: &'static str,
    /// `managed`, `byok` or `local` (`routing::Billing`).
    pub billing_mode: &'static str,
    pub tokens: Tokens,
    /// Media: the units billed (images, thousands of characters, megabytes, seconds).
    pub units: i64,
    pub cost_micros: i64,
    pub charged_micros: i64,
    pub baseline_micros: i64,
    pub attempts: Value,
}

impl Reservation {
    /// The whole cents held: one more than the worst case, so that what an account owes below a
    /// cent can be billed with it.
    pub fn hold_cents(&self) -> i64 {
        hold_cents(self.worst_micros)
    }
}

fn hold_cents(worst_micros: i64) -> i64 {
    cents_up(worst_micros) + 1
}

/// The account's balance in cents, refused with `billing_required` unless it is positive.
async fn positive_balance_in(c: &mut crate::db::Conn, agent_id: &str) -> Result<i64, GatewayError> {
    let balance = ledger::balance_in(c, agent_id).await?.balance_cents;
    if balance <= 0 {
        return Err(GatewayError::BillingRequired);
    }
    Ok(balance)
}

/// The calendar month (UTC) budgets count in.
pub fn month_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m").to_string()
}

/// Holds `worst_micros` for a request before it goes upstream.
pub async fn reserve(
    app: &App,
    payer: &Payer,
    request_type: RequestType,
    tier: Mode,
    worst_micros: i64,
    metadata: &Value,
) -> Result<Reservation, GatewayError> {
    let usage_id = new_id();
    let month = month_of(now_ms());
    let hold_cents = hold_cents(worst_micros);
    let backend = app.db.backend;
    let (u, m) = (&usage_id, &month);
    let hold_id = transaction!(app.db, |c| async move {
        let balance = positive_balance_in(&mut *c, &payer.agent_id).await?;
        if let Some(ws) = &payer.workspace_id {
            if let Some(budget_micros) = store::reserve_budget(c, ws, m, worst_micros).await? {
                let workspace = store::workspace_slug(c, ws).await?;
                return Err(GatewayError::BudgetExceeded { workspace, budget_micros });
            }
        }
        let hold = ledger::hold_in(c, backend, &payer.agent_id, hold_cents, "Model usage (reserved)", Some(u))
            .await
            .map_err(|e| match e {
                LedgerError::InsufficientFunds => {
                    GatewayError::InsufficientBalance { balance_cents: balance, required_micros: worst_micros }
                }
                other => other.into(),
            })?;
        store::insert_reserved(c, u, payer, request_type, tier, worst_micros, Some(&hold.id), metadata).await?;
        Ok::<_, GatewayError>(hold.id)
    })?;
    Ok(Reservation { usage_id, hold_id, worst_micros, month, started: Instant::now() })
}

/// Charges what the request cost; returns the charge in micro-USD.
pub async fn settle(app: &App, payer: &Payer, r: &Reservation, served: &Served) -> Result<i64, GatewayError> {
    let latency_ms = r.started.elapsed().as_millis() as i64;
    let backend = app.db.backend;
    transaction!(app.db, |c| async move {
        let charged = served.charged_micros;
        let total = store::add_to_meter(c, &payer.agent_id, charged).await?;
        let cents = total / MICROS_PER_CENT - (total - charged) / MICROS_PER_CENT;
        let held = r.hold_cents();
        ledger::capture_for_platform_in(c, &r.hold_id, cents.min(held), kind::MODEL_USAGE).await?;
        if cents > held {
            // Only when an upstream answered past the worst case: bill the rest as far as the
            // wallet holds.
            let rest = cents - held;
            let billed =
                ledger::bill_compute_in(c, backend, &payer.agent_id, rest, "Model usage", Some(&r.usage_id)).await?;
            if billed < rest {
                tracing::warn!(usage = %r.usage_id, unbilled_cents = rest - billed, "model usage past the wallet");
            }
        }
        if let Some(ws) = &payer.workspace_id {
            store::settle_budget(c, ws, &r.month, r.worst_micros, charged).await?;
        }
        if !store::complete_usage(c, &r.usage_id, served, latency_ms).await? {
            return Err(GatewayError::Conflict("this request's reservation was already released".into()));
        }
        if let Some(key) = &payer.key_id {
            store::touch_key(c, key).await?;
        }
        Ok::<_, GatewayError>(charged)
    })
}

/// Gives the hold back: the request failed before it cost anything.
pub async fn release(
    app: &App,
    payer: &Payer,
    r: &Reservation,
    error_code: &str,
    attempts: &Value,
) -> Result<(), GatewayError> {
    let latency_ms = r.started.elapsed().as_millis() as i64;
    transaction!(app.db, |c| async move {
        if !store::fail_usage(c, &r.usage_id, error_code, attempts, latency_ms).await? {
            return Ok(());
        }
        ledger::release_in(c, &r.hold_id).await?;
        if let Some(ws) = &payer.workspace_id {
            store::settle_budget(c, ws, &r.month, r.worst_micros, 0).await?;
        }
        Ok::<_, GatewayError>(())
    })
}

/// Records a request answered from the cache (free; it needs a positive balance all the same).
pub async fn record_cache_hit(
    app: &App,
    payer: &Payer,
    tier: Mode,
    served: &Served,
    metadata: &Value,
) -> Result<(), GatewayError> {
    transaction!(app.db, |c| async move {
        positive_balance_in(&mut *c, &payer.agent_id).await?;
        let id = new_id();
        store::insert_reserved(c, &id, payer, RequestType::Chat, tier, 0, None, metadata).await?;
        store::complete_usage(c, &id, served, 0).await?;
        if let Some(key) = &payer.key_id {
            store::touch_key(c, key).await?;
        }
        Ok::<_, GatewayError>(())
    })
}

/// Releases reservations older than the configured timeout: their host died mid-request.
pub async fn release_stale(app: &App) -> Result<usize, GatewayError> {
    let before = now_ms() - app.config.gateway.gateway_reservation_timeout_ms as i64;
    let stale = store::stale_reservations(&app.db, before).await?;
    for s in &stale {
        let payer = Payer { agent_id: s.agent_id.clone(), key_id: None, workspace_id: s.workspace_id.clone() };
        let r = Reservation {
            usage_id: s.id.clone(),
            hold_id: s.hold_id.clone(),
            worst_micros: s.reserved_micros,
            month: month_of(s.created_at),
            started: Instant::now(),
        };
        release(app, &payer, &r, "abandoned", &Value::Array(vec![])).await?;
    }
    Ok(stale.len())
}
