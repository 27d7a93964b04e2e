use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;

crate::stored_enum! {
    /// ACTIVE (billed and run) → PAUSED (neither; resumable) → CANCELLED (for good).
    pub enum SubscriptionStatus { Active => "ACTIVE", Paused => "PAUSED", Cancelled => "CANCELLED" }
}

crate::stored_enum! {
    pub enum SubscriptionAction { Pause => "pause", Resume => "resume", Cancel => "cancel" }
}

crate::stored_enum! {
    /// A scheduled run: RUNNING, then COMPLETED or FAILED. A manual service's run is COMPLETED
    /// once it created its job.
    pub enum RunStatus { Running => "RUNNING", Completed => "COMPLETED", Failed => "FAILED" }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSubscriptionRequest {
    pub service_id: String,
    /// What every run works on (the component's input, or the job's); empty by default.
    #[serde(default)]
    pub input: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SubscriptionActionRequest {
    /// `pause`, `resume` or `cancel`.
    pub action: String,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// `buyer` (default): yours; `provider`: subscriptions to your services.
    pub role: Option<String>,
    /// `ACTIVE`, `PAUSED` or `CANCELLED`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub cursor: Option<String>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct SubscriptionRow {
        pub id: String,
        pub service_id: String,
        pub service_title: String,
        pub service_description: String,
        pub fulfilment: String,
        pub buyer_id: String,
        pub provider_id: String,
        pub provider_name: String,
        pub provider_avatar_url: Option<String>,
        pub provider_referrer: Option<String>,
        pub price_cents: i64,
        pub run_interval_hours: i64,
        pub input: String,
        pub status: String,
        pub hold_id: Option<String>,
        pub period_start: Option<i64>,
        pub compute_cents: i64,
        pub next_run_at: Option<i64>,
        pub next_billing_at: Option<i64>,
        pub total_runs: i64,
        pub successful_runs: i64,
        pub paused_reason: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub paused_at: Option<i64>,
        pub cancelled_at: Option<i64>,
    }
}

/// The columns of `SubscriptionRow`, over `subscriptions s` with its service `v` and provider `p`.
pub const SUBSCRIPTION_SELECT: &str = "SELECT s.id, s.service_id, v.title AS service_title, \
    v.description AS service_description, v.fulfilment, s.buyer_id, s.provider_id, p.name AS provider_name, \
    p.avatar_url AS provider_avatar_url, p.referred_by AS provider_referrer, s.price_cents, s.run_interval_hours, \
    s.input, s.status, s.hold_id, s.period_start, s.compute_cents, s.next_run_at, s.next_billing_at, s.total_runs, \
    s.successful_runs, s.paused_reason, s.created_at, s.updated_at, s.paused_at, s.cancelled_at \
    FROM subscriptions s JOIN services v ON v.id = s.service_id JOIN agents p ON p.id = s.provider_id";

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct RunRow {
        pub id: String,
        pub subscription_id: String,
        pub status: String,
        pub scheduled_at: i64,
        pub started_at: Option<i64>,
        pub completed_at: Option<i64>,
        pub output: Option<String>,
        pub error: Option<String>,
        pub execution_id: Option<String>,
        pub job_id: Option<String>,
    }
}

pub const RUN_COLUMNS: &str =
    "id, subscription_id, status, scheduled_at, started_at, completed_at, output, error, execution_id, job_id";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    pub id: String,
    pub name: String,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscribedService {
    pub id: String,
    pub title: String,
    pub description: String,
    /// `manual` or `component`.
    pub fulfilment: String,
    pub agent: ProviderView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunCount {
    pub runs: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub id: String,
    /// `RUNNING`, `COMPLETED` or `FAILED`.
    pub status: String,
    pub scheduled_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// A component run's output, kept for the subscriber.
    pub output: Option<String>,
    pub error: Option<String>,
    pub execution_id: Option<String>,
    /// The job a manual service's run created.
    pub job_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: String,
    /// `ACTIVE`, `PAUSED` or `CANCELLED`.
    pub status: String,
    pub service: SubscribedService,
    pub buyer_id: String,
    pub price_cents: i64,
    pub run_interval_hours: i64,
    pub input: String,
    pub next_run_at: Option<String>,
    pub next_billing_at: Option<String>,
    /// When the billing period now paid for began.
    pub period_start: Option<String>,
    pub total_runs: i64,
    pub successful_runs: i64,
    /// Successful runs over all runs, as Toku shows it (`"96.7%"`); null before the first run.
    pub reliability: Option<String>,
    /// `buyer` or `payment_failed`, while paused.
    pub paused_reason: Option<String>,
    pub created_at: String,
    pub paused_at: Option<String>,
    pub cancelled_at: Option<String>,
    #[serde(rename = "_count")]
    pub count: RunCount,
    /// The most recent runs, newest first (one subscription's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<Vec<RunView>>,
}

impl SubscriptionRow {
    pub fn state(&self) -> SubscriptionStatus {
        self.status.parse().unwrap_or(SubscriptionStatus::Cancelled)
    }

    pub fn view(&self, runs: Option<Vec<RunView>>) -> SubscriptionView {
        SubscriptionView {
            id: self.id.clone(),
            status: self.status.clone(),
            service: SubscribedService {
                id: self.service_id.clone(),
                title: self.service_title.clone(),
                description: self.service_description.clone(),
                fulfilment: self.fulfilment.clone(),
                agent: ProviderView {
                    id: self.provider_id.clone(),
                    name: self.provider_name.clone(),
                    avatar_url: self.provider_avatar_url.clone(),
                },
            },
            buyer_id: self.buyer_id.clone(),
            price_cents: self.price_cents,
            run_interval_hours: self.run_interval_hours,
            input: self.input.clone(),
            next_run_at: self.next_run_at.map(rfc3339),
            next_billing_at: self.next_billing_at.map(rfc3339),
            period_start: self.period_start.map(rfc3339),
            total_runs: self.total_runs,
            successful_runs: self.successful_runs,
            reliability: reliability(self.successful_runs, self.total_runs),
            paused_reason: self.paused_reason.clone(),
            created_at: rfc3339(self.created_at),
            paused_at: self.paused_at.map(rfc3339),
            cancelled_at: self.cancelled_at.map(rfc3339),
            count: RunCount { runs: self.total_runs },
            runs,
        }
    }
}

/// `"96.7%"`: one decimal, rounded half up.
pub fn reliability(successful: i64, total: i64) -> Option<String> {
    (total > 0).then(|| {
        let tenths = (successful * 1000 * 2 + total) / (total * 2);
        format!("{}.{}%", tenths / 10, tenths % 10)
    })
}

impl RunRow {
    pub fn view(&self) -> RunView {
        RunView {
            id: self.id.clone(),
            status: self.status.clone(),
            scheduled_at: rfc3339(self.scheduled_at),
            started_at: self.started_at.map(rfc3339),
            completed_at: self.completed_at.map(rfc3339),
            output: self.output.clone(),
            error: self.error.clone(),
            execution_id: self.execution_id.clone(),
            job_id: self.job_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reliability_is_a_percentage_with_one_decimal() {
        assert_eq!(super::reliability(29, 30).as_deref(), Some("96.7%"));
        assert_eq!(super::reliability(1, 3).as_deref(), Some("33.3%"));
        assert_eq!(super::reliability(2, 3).as_deref(), Some("66.7%"));
        assert_eq!(super::reliability(0, 4).as_deref(), Some("0.0%"));
        assert_eq!(super::reliability(5, 5).as_deref(), Some("100.0%"));
        assert_eq!(super::reliability(0, 0), None);
    }
}
