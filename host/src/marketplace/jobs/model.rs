use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;
use crate::wallet::usd;

crate::stored_enum! {
    /// A job's lifecycle: PENDING_PAYMENT (waiting for a checkout) → REQUESTED (paid, held in
    /// escrow) → ACCEPTED → IN_PROGRESS → DELIVERED → COMPLETED; or CANCELLED, or DISPUTED
    /// after delivery.
    pub enum JobStatus {
        PendingPayment => "PENDING_PAYMENT",
        Requested => "REQUESTED",
        Accepted => "ACCEPTED",
        InProgress => "IN_PROGRESS",
        Delivered => "DELIVERED",
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
        Disputed => "DISPUTED",
    }
}

crate::stored_enum! {
    /// What a party asks of a job (`PATCH /api/jobs/{id}`).
    pub enum JobAction {
        Accept => "accept",
        Start => "start",
        Deliver => "deliver",
        Complete => "complete",
        Cancel => "cancel",
        Dispute => "dispute",
    }
}

/// `POST /api/jobs`. `tierId` is the tier's name, as in Toku.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewJobRequest {
    pub service_id: String,
    /// `Basic`, `Standard` or `Premium`; the cheapest tier when absent.
    #[serde(alias = "tierName")]
    pub tier_id: Option<String>,
    pub input: String,
}

/// `POST /api/agents/hire`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HireRequest {
    pub service_id: String,
    pub input: String,
    /// `Basic`, `Standard` or `Premium`; the cheapest tier when absent.
    #[serde(alias = "tierId")]
    pub tier_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct JobActionRequest {
    /// `accept`, `start`, `deliver` (with `output`), `complete`, `cancel` or `dispute`.
    pub action: String,
    /// The delivered work, with `deliver`.
    pub output: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `buyer` or `worker`; both when absent.
    pub role: Option<String>,
    /// One of the job statuses, e.g. `DELIVERED`.
    pub status: Option<String>,
    /// 1 to 100, default 20.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub cursor: Option<String>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct JobRow {
        pub id: String,
        pub service_id: String,
        pub service_title: String,
        pub tier_name: String,
        pub delivery_days: i64,
        pub buyer_id: String,
        pub buyer_name: String,
        pub worker_id: String,
        pub worker_name: String,
        pub input: String,
        pub output: Option<String>,
        pub price_cents: i64,
        pub status: String,
        pub fulfilment: String,
        pub hold_id: Option<String>,
        pub execution_id: Option<String>,
        pub last_error: Option<String>,
        pub cancelled_by: Option<String>,
        pub compute_cents: i64,
        pub completed_by: Option<String>,
        pub disputed_at: Option<i64>,
        pub refund_cents: Option<i64>,
        pub resolution_note: Option<String>,
        pub resolved_at: Option<i64>,
        pub subscription_id: Option<String>,
        /// The agent that referred the worker: it earns its share of the fee on this job.
        pub worker_referrer: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub accepted_at: Option<i64>,
        pub delivered_at: Option<i64>,
        pub completed_at: Option<i64>,
        pub cancelled_at: Option<i64>,
    }
}

/// The columns of `JobRow`, over `jobs j` joined with its buyer `b` and worker `w`.
pub const JOB_SELECT: &str = "SELECT j.id, j.service_id, j.service_title, j.tier_name, j.delivery_days, \
    j.buyer_id, b.name AS buyer_name, j.worker_id, w.name AS worker_name, j.input, j.output, j.price_cents, \
    j.status, j.fulfilment, j.hold_id, j.execution_id, j.last_error, j.cancelled_by, j.compute_cents, \
    j.completed_by, j.disputed_at, j.refund_cents, j.resolution_note, j.resolved_at, j.subscription_id, \
    w.referred_by AS worker_referrer, j.created_at, j.updated_at, j.accepted_at, j.delivered_at, j.completed_at, \
    j.cancelled_at \
    FROM jobs j JOIN agents b ON b.id = j.buyer_id JOIN agents w ON w.id = j.worker_id";

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: String,
    /// `PENDING_PAYMENT`, `REQUESTED`, `ACCEPTED`, `IN_PROGRESS`, `DELIVERED`, `COMPLETED`,
    /// `CANCELLED` or `DISPUTED`.
    pub status: String,
    pub service_id: String,
    pub service_name: String,
    pub tier_name: String,
    pub price_cents: i64,
    pub price_usd: String,
    pub delivery_days: i64,
    pub input: String,
    /// The delivered work, from `DELIVERED` on.
    pub output: Option<String>,
    pub buyer_id: String,
    pub buyer_name: String,
    pub worker_id: String,
    pub worker_name: String,
    /// `manual` or `component`.
    pub fulfilment: String,
    pub execution_id: Option<String>,
    /// Why the component's last run on this job failed.
    pub last_error: Option<String>,
    /// `buyer` or `worker`, once cancelled.
    pub cancelled_by: Option<String>,
    /// What the component's runs on this job cost: it comes off the worker's earnings when the
    /// escrow settles, never off the buyer's refund.
    pub compute_cents: i64,
    /// `buyer`, `auto` (the buyer let the review period pass) or `operator` (a resolved dispute).
    pub completed_by: Option<String>,
    pub disputed_at: Option<String>,
    /// How the operator resolved the dispute, visible to both parties.
    pub resolution: Option<ResolutionView>,
    /// The subscription whose run created this job.
    pub subscription_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub accepted_at: Option<String>,
    pub delivered_at: Option<String>,
    pub completed_at: Option<String>,
    pub cancelled_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionView {
    /// Returned to the buyer; the rest of the escrow paid the worker.
    pub refund_cents: i64,
    pub note: String,
    pub resolved_at: String,
}

impl JobRow {
    /// The stored status; an unknown one reads as cancelled (nothing more can happen to it).
    pub fn state(&self) -> JobStatus {
        self.status.parse().unwrap_or(JobStatus::Cancelled)
    }

    pub fn view(&self) -> JobView {
        JobView {
            id: self.id.clone(),
            status: self.status.clone(),
            service_id: self.service_id.clone(),
            service_name: self.service_title.clone(),
            tier_name: self.tier_name.clone(),
            price_cents: self.price_cents,
            price_usd: usd(self.price_cents),
            delivery_days: self.delivery_days,
            input: self.input.clone(),
            output: self.output.clone(),
            buyer_id: self.buyer_id.clone(),
            buyer_name: self.buyer_name.clone(),
            worker_id: self.worker_id.clone(),
            worker_name: self.worker_name.clone(),
            fulfilment: self.fulfilment.clone(),
            execution_id: self.execution_id.clone(),
            last_error: self.last_error.clone(),
            cancelled_by: self.cancelled_by.clone(),
            compute_cents: self.compute_cents,
            completed_by: self.completed_by.clone(),
            disputed_at: self.disputed_at.map(rfc3339),
            resolution: self.resolved_at.map(|at| ResolutionView {
                refund_cents: self.refund_cents.unwrap_or(0),
                note: self.resolution_note.clone().unwrap_or_default(),
                resolved_at: rfc3339(at),
            }),
            subscription_id: self.subscription_id.clone(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            accepted_at: self.accepted_at.map(rfc3339),
            delivered_at: self.delivered_at.map(rfc3339),
            completed_at: self.completed_at.map(rfc3339),
            cancelled_at: self.cancelled_at.map(rfc3339),
        }
    }

    /// Toku's webhook `data` for this job's events.
    pub fn event_data(&self) -> serde_json::Value {
        let mut data = serde_json::json!({
            "id": self.id,
            "status": self.status,
            "input": self.input,
            "output": self.output,
            "priceCents": self.price_cents,
            "serviceId": self.service_id,
            "serviceName": self.service_title,
            "tierName": self.tier_name,
            "buyerId": self.buyer_id,
            "workerId": self.worker_id,
        });
        if let Some(by) = &self.completed_by {
            data["completedBy"] = by.as_str().into();
        }
        if let Some(error) = &self.last_error {
            data["lastError"] = error.as_str().into();
        }
        if self.resolved_at.is_some() {
            data["refundCents"] = self.refund_cents.unwrap_or(0).into();
            data["resolutionNote"] = self.resolution_note.clone().unwrap_or_default().into();
        }
        data
    }
}
