use serde::Serialize;
use utoipa::ToSchema;

use crate::db::rfc3339;

crate::stored_enum!(
    /// A delivery is pending until an attempt gets a 2xx (delivered) or its attempts run out
    /// (failed).
    pub enum DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        Failed => "failed",
    }
);

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct DeliveryRow {
        pub id: String,
        pub event_id: String,
        pub agent_id: String,
        pub event_type: String,
        pub status: String,
        pub attempts: i64,
        pub last_status_code: Option<i64>,
        pub last_error: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
        pub payload: String,
    }
}

pub const DELIVERY_COLUMNS: &str = "d.id, d.event_id, d.agent_id, d.event_type, d.status, d.attempts, \
    d.last_status_code, d.last_error, d.created_at, d.updated_at, e.payload";

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct AttemptRow {
        pub url: String,
        pub status_code: Option<i64>,
        pub latency_ms: i64,
        pub error: Option<String>,
        pub response_excerpt: Option<String>,
        pub created_at: i64,
    }
}

/// A delivery as its agent sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    /// Also the `webhook-id` header of every attempt.
    pub id: String,
    pub event_id: String,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    /// The body sent.
    pub payload: serde_json::Value,
    pub created_at: String,
    pub updated_at: String,
    /// Every attempt, oldest first (in `GET .../deliveries/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<AttemptView>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub url: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the response body.
    pub response_excerpt: Option<String>,
    pub created_at: String,
}

impl DeliveryRow {
    pub fn view(&self, attempts: Option<Vec<AttemptRow>>) -> DeliveryView {
        DeliveryView {
            id: self.id.clone(),
            event_id: self.event_id.clone(),
            event: self.event_type.clone(),
            status: self.status.clone(),
            attempts: self.attempts,
            last_status_code: self.last_status_code,
            last_error: self.last_error.clone(),
            payload: serde_json::from_str(&self.payload).unwrap_or_default(),
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
            attempt_log: attempts.map(|a| a.iter().map(AttemptRow::view).collect()),
        }
    }
}

impl AttemptRow {
    fn view(&self) -> AttemptView {
        AttemptView {
            url: self.url.clone(),
            status_code: self.status_code,
            latency_ms: self.latency_ms,
            error: self.error.clone(),
            response_excerpt: self.response_excerpt.clone(),
            created_at: rfc3339(self.created_at),
        }
    }
}

/// An agent's webhook endpoint as deliveries see it: the secrets they are signed with (the
/// current one, and the previous one until it expires, 24 hours after a rotation), and its
/// health.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub current: String,
    pub previous: Option<String>,
    /// Since when every attempt has failed (cleared by a success).
    pub failing_since: Option<i64>,
    /// Set when it had failed for too long; nothing is sent until the URL is set again.
    pub disabled_at: Option<i64>,
}

impl Endpoint {
    pub fn all(&self) -> Vec<&str> {
        std::iter::once(self.current.as_str()).chain(self.previous.as_deref()).collect()
    }
}
