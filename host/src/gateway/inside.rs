//! Model calls made by a run (a `system_prompt` agent's answer, a component's `llm.chat`),
//! paid from the run's budget rather than held from a wallet per call: the run's hold already
//! covers its compute. Each call's worst case must fit in what the budget has left (else
//! `quota_exceeded`, before any upstream call); its cost is counted here in micro-USD and billed
//! with the run's compute when the run settles (rounded up to a cent once), and recorded as a
//! usage row of the payer with the execution's id.

use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

use super::chat::{self, first_success, Got};
use super::errors::GatewayError;
use super::metering::Payer;
use super::model::{RequestType, Tokens, MICROS_PER_CENT};
use super::store;
use crate::db::new_id;
use crate::state::App;
use crate::transaction;

/// What a run may spend on models, and has.
pub struct RunModelBudget {
    pub payer_id: String,
    pub execution_id: String,
    limit_micros: i64,
    spent: Mutex<i64>,
}

impl RunModelBudget {
    pub fn new(payer_id: &str, execution_id: &str, limit_cents: i64) -> RunModelBudget {
        RunModelBudget {
            payer_id: payer_id.into(),
            execution_id: execution_id.into(),
            limit_micros: limit_cents.max(0).saturating_mul(MICROS_PER_CENT),
            spent: Mutex::new(0),
        }
    }

    /// Spent and reserved by calls in flight, in micro-USD.
    pub fn spent_micros(&self) -> i64 {
        *self.spent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reserve(&self, micros: i64) -> bool {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        if *spent + micros > self.limit_micros {
            return false;
        }
        *spent += micros;
        true
    }

    /// Replaces a reservation by what the call cost (0 when it failed).
    fn settle(&self, reserved: i64, cost: i64) {
        *self.spent.lock().unwrap_or_else(|e| e.into_inner()) += cost - reserved;
    }
}

#[derive(Debug)]
pub enum InsideError {
    /// The call's worst case does not fit in the run's budget.
    QuotaExceeded(String),
    /// No upstream can take it.
    Unavailable(String),
    Invalid(String),
    Failed(String),
}

/// A whole answer, its tokens, and what it cost in micro-USD.
pub struct InsideAnswer {
    pub content: String,
    pub tokens: Tokens,
    pub charged_micros: i64,
}

/// One chat completion (OpenAI's request body) paid from `budget`.
pub async fn chat(app: &App, budget: &RunModelBudget, body: Value) -> Result<InsideAnswer, InsideError> {
    let payer = Payer { agent_id: budget.payer_id.clone(), key_id: None, workspace_id: None };
    let p = chat::prepare(app, &payer, body).await.map_err(|e| match e {
        GatewayError::Invalid(m) => InsideError::Invalid(m),
        GatewayError::NoProvider(m) => InsideError::Unavailable(m),
        other => InsideError::Failed(other.to_string()),
    })?;
    if !budget.reserve(p.worst_micros) {
        return Err(InsideError::QuotaExceeded(format!(
            "this call may cost up to ${:.6}, more than the run's budget has left",
            p.worst_micros as f64 / 1e6
        )));
    }
    let started = Instant::now();
    let mut attempts = Vec::new();
    let (candidate, got) = match first_success(app, &p.plan, &p.body, false, &mut attempts).await {
        Ok(found) => found,
        Err(failure) => {
            budget.settle(p.worst_micros, 0);
            let e = chat::upstream_error(failure);
            return Err(InsideError::Failed(e.to_string()));
        }
    };
    let Got::Whole(answer) = got else { unreachable!("a request that did not ask for a stream got one") };
    let tokens = answer.get("usage").and_then(Tokens::of_usage).unwrap_or_else(|| chat::estimate(&p.shape, &answer));
    let served = chat::served(app, &p.plan, &candidate, tokens, Value::Array(attempts));
    budget.settle(p.worst_micros, served.charged_micros);
    let latency_ms = started.elapsed().as_millis() as i64;
    let (id, execution_id, s, who, tier) = (&new_id(), budget.execution_id.as_str(), &served, &payer, p.plan.tier);
    let recorded = transaction!(app.db, |c| async move {
        store::insert_reserved(c, id, who, RequestType::Chat, tier, 0, None, &json!({})).await?;
        store::complete_usage(c, id, s, latency_ms).await?;
        store::bind_execution(c, id, execution_id).await
    });
    if let Err(e) = recorded {
        // The run is billed from the budget's count whatever happens to the record.
        tracing::error!(error = %e, execution = %budget.execution_id, "recording a run's model usage");
    }
    let content = answer.pointer("/choices/0/message/content").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(InsideAnswer { content, tokens, charged_micros: served.charged_micros })
}
