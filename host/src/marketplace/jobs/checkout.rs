//! Toku's hire when the wallet is short: the job waits in `PENDING_PAYMENT` and the buyer pays
//! a checkout at the payment provider. The checkout carries a follow-up (`JOB_PAID`), added by
//! the transaction that credits the payment; it holds the price from the wallet just credited
//! and starts the job as a wallet hire would have (a component's run included).

use std::sync::Arc;

use serde_json::json;

use super::component;
use super::model::JobStatus;
use super::service::{self, tell, JobOutcome, Order};
use super::store;
use super::JobError;
use crate::db::new_id;
use crate::db::sql::Changes;
use crate::events::types;
use crate::idempotency::Answer;
use crate::marketplace::fulfil;
use crate::marketplace::services::store as services;
use crate::payments::service::{self as payments, Purpose, ReturnUrls};
use crate::scheduler::{Deferred, Job, KindSpec, Registry};
use crate::state::App;
use crate::transaction;
use crate::wallet::ledger;

/// Starts a job whose checkout was paid; keyed by the job.
pub const JOB_PAID: KindSpec = KindSpec::once("marketplace.job_paid");

pub fn register(jobs: &mut Registry<App>) {
    jobs.add(JOB_PAID, |app: Arc<App>, job: Job| async move {
        let id = job.payload["job_id"].as_str().unwrap_or_default().to_string();
        paid(&app, &id).await.map_err(|e| e.to_string())
    });
}

/// Hires from the wallet when it holds the price; otherwise creates the job `PENDING_PAYMENT`
/// and a checkout of the price (at least the provider's smallest payment) for it.
pub async fn hire_or_checkout(
    app: &App,
    buyer_id: &str,
    service_id: &str,
    tier: Option<&str>,
    input: &str,
    answer: Answer<'_, JobOutcome>,
) -> Result<JobOutcome, JobError> {
    let order = service::order(app, buyer_id, service_id, tier, input).await?;
    pay_or_checkout(app, buyer_id, &order, answer).await
}

/// Starts the order from the wallet when it holds the price; otherwise creates its job
/// `PENDING_PAYMENT` and a checkout for it.
pub async fn pay_or_checkout(
    app: &App,
    buyer_id: &str,
    order: &Order,
    answer: Answer<'_, JobOutcome>,
) -> Result<JobOutcome, JobError> {
    let balance = app.ledger.balance(buyer_id).await?.balance_cents;
    if balance >= order.tier.price_cents {
        return service::start(app, buyer_id, order, answer).await;
    }
    let id = new_id();
    transaction!(app.db, |c| store::insert(c, &order.new_job(&id, buyer_id, JobStatus::PendingPayment, None)))?;
    let amount = order.tier.price_cents.max(app.config.payments.min_payment_cents);
    let description = order.description();
    let purpose = Purpose {
        description: &description,
        on_paid: Some(Deferred::new(JOB_PAID, Some(&id), json!({ "job_id": id }))),
    };
    let urls = ReturnUrls { success: None, cancel: None };
    let checkout = match payments::start_checkout(app, buyer_id, amount, urls, purpose, Answer::none()).await {
        Ok(checkout) => checkout,
        Err(e) => {
            // No checkout, no job: nothing can pay for it.
            let gone = Changes::default()
                .text("cancelled_by", "buyer")
                .stamp("cancelled_at")
                .text("last_error", &e.to_string());
            transaction!(app.db, |c| store::transition(
                c,
                &id,
                &[JobStatus::PendingPayment],
                JobStatus::Cancelled,
                &gone
            ))?;
            return Err(JobError::Payment(e));
        }
    };
    transaction!(app.db, |c| async {
        let linked = Changes::default().text("checkout_id", &checkout.id);
        store::transition(c, &id, &[JobStatus::PendingPayment], JobStatus::PendingPayment, &linked).await?;
        let job = store::get_in(c, &id).await?.ok_or(JobError::NotFound)?;
        let done = JobOutcome { job, balance, checkout_url: checkout.url.clone() };
        answer.record_in(c, &done).await?;
        Ok::<_, JobError>(done)
    })
}

/// The checkout of a `PENDING_PAYMENT` job was credited: hold the price and start the job. A
/// job cancelled meanwhile stays cancelled (the payment stays in the wallet); a wallet that no
/// longer holds the price leaves the job waiting, with why, for the buyer to cancel.
async fn paid(app: &App, id: &str) -> Result<(), JobError> {
    let Some(job) = store::get(&app.db, id).await? else { return Ok(()) };
    if job.state() != JobStatus::PendingPayment {
        return Ok(());
    }
    // The order as it was made (an unlisted service for a custom proposal included).
    let ordered = match services::get(&app.db, &job.service_id).await? {
        Some(s) => service::order_for(app, &job.buyer_id, s, Some(&job.tier_name), &job.input).await,
        None => Err(JobError::ServiceNotFound),
    };
    let order = match ordered {
        Ok(order) => order,
        Err(e) => return wait_with(app, id, &format!("the payment arrived but the job cannot start: {e}")).await,
    };
    let ready = match order.by_component() {
        true => fulfil::ready(app, &order.worker, &job.buyer_id).await.ok(),
        false => None,
    };
    let status = if ready.is_some() { JobStatus::InProgress } else { JobStatus::Requested };
    let backend = app.db.backend;
    let description = order.description();
    let started = transaction!(app.db, |c| async {
        let balance = ledger::balance_in(&mut *c, &job.buyer_id).await?.balance_cents;
        if balance < job.price_cents {
            return Ok(None);
        }
        let hold = ledger::hold_in(c, backend, &job.buyer_id, job.price_cents, &description, Some(id)).await?;
        let mut changes = Changes::default().text("hold_id", &hold.id);
        if status == JobStatus::InProgress {
            changes = changes.stamp("accepted_at");
        }
        if !store::transition(c, id, &[JobStatus::PendingPayment], status, &changes).await? {
            return Err(JobError::Transition { action: "start", status: "changed".into() });
        }
        let job = store::get_in(c, id).await?.ok_or(JobError::NotFound)?;
        tell(c, types::JOB_CREATED, &job.worker_id, &job).await?;
        Ok::<_, JobError>(Some(job))
    })?;
    match (started, ready) {
        (None, _) => wait_with(app, id, "the payment arrived but the wallet no longer holds the price").await,
        (Some(job), Some(ready)) => component::deliver(app, &job, &order.worker, ready, Answer::none()).await.map(drop),
        (Some(_), None) => Ok(()),
    }
}

async fn wait_with(app: &App, id: &str, why: &str) -> Result<(), JobError> {
    let changes = Changes::default().text("last_error", why);
    transaction!(app.db, |c| store::transition(
        c,
        id,
        &[JobStatus::PendingPayment],
        JobStatus::PendingPayment,
        &changes
    ))?;
    Ok(())
}
