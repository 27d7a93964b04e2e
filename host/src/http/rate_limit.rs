//! Rate limiting: token buckets holding one window's allowance and refilling continuously.
//! Requests count against their agent or operator when their key is valid, and against the
//! client address otherwise (anonymous requests and refused keys alike), so made-up keys get
//! no fresh buckets. Registration has its own per-address limit. Buckets live in this
//! process; behind a load balancer each host enforces its own share.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;

use super::auth::{client_ip, Caller};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::App;

pub struct RateLimiter {
    capacity: u32,
    window: Duration,
    buckets: DashMap<String, Bucket>,
    calls: AtomicU64,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct Decision {
    pub allowed: bool,
    pub remaining: u32,
    pub retry_after_secs: u64,
}

impl RateLimiter {
    pub fn new(capacity: u32, window: Duration) -> Self {
        Self { capacity, window, buckets: DashMap::new(), calls: AtomicU64::new(0) }
    }

    pub fn per_minute(capacity: u32) -> Self {
        Self::new(capacity, Duration::from_secs(60))
    }

    pub fn per_hour(capacity: u32) -> Self {
        Self::new(capacity, Duration::from_secs(3600))
    }

    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    pub fn check(&self, key: &str) -> Decision {
        self.check_at(key, self.capacity, Instant::now())
    }

    /// As `check`, for a key with an allowance of its own per window.
    pub fn check_with(&self, key: &str, capacity: u32) -> Decision {
        self.check_at(key, capacity, Instant::now())
    }

    fn check_at(&self, key: &str, capacity: u32, now: Instant) -> Decision {
        if self.calls.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            self.forget_full_buckets(now);
        }
        let capacity = f64::from(capacity.max(1));
        let per_sec = capacity / self.window.as_secs_f64();
        let mut bucket = self.buckets.entry(key.to_string()).or_insert(Bucket { tokens: capacity, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision { allowed: true, remaining: bucket.tokens as u32, retry_after_secs: 0 }
        } else {
            let wait = ((1.0 - bucket.tokens) / per_sec).ceil().max(1.0) as u64;
            Decision { allowed: false, remaining: 0, retry_after_secs: wait }
        }
    }

    /// A bucket untouched for a whole window is full again and need not be kept.
    fn forget_full_buckets(&self, now: Instant) {
        self.buckets.retain(|_, b| now.saturating_duration_since(b.updated) < self.window);
    }
}

/// A 429 telling the client when to come back.
pub fn too_many(retry_after_secs: u64, message: &str) -> ApiError {
    let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
    err.retry_after_secs = Some(retry_after_secs);
    err
}

/// The bucket a request counts against, and its allowance per minute when it has its own (a
/// runtime key's).
fn bucket(req: &Request, runtime_default: u32) -> (String, Option<u32>) {
    match req.extensions().get::<Caller>() {
        Some(Caller::Known(Principal::Runtime(key))) => {
            (format!("runtime:{}", key.key_id), Some(key.rate_limit_per_minute.unwrap_or(runtime_default)))
        }
        other => (bucket_key(other, req), None),
    }
}

fn bucket_key(caller: Option<&Caller>, req: &Request) -> String {
    match caller {
        Some(Caller::Known(Principal::Agent { agent_id })) => format!("agent:{agent_id}"),
        Some(Caller::Known(Principal::Operator { key_id })) => format!("operator:{key_id}"),
        _ => match client_ip(req.extensions()) {
            Some(ip) => format!("ip:{ip}"),
            None => "anonymous".to_string(),
        },
    }
}

pub async fn limit(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if matches!(req.uri().path(), "/health" | "/ready") {
        return next.run(req).await;
    }
    let (key, own_capacity) = bucket(&req, app.config.gateway.gateway_key_rate_limit_per_minute);
    let limiter = &app.limits.requests;
    let capacity = own_capacity.unwrap_or(limiter.capacity());
    let decision = limiter.check_with(&key, capacity);
    let mut resp = if decision.allowed {
        next.run(req).await
    } else {
        let mut refused = too_many(decision.retry_after_secs, "Rate limit exceeded: too many requests, slow down");
        if own_capacity.is_some() {
            refused.code = "rate_limit_exceeded";
        }
        refused.into_response()
    };
    let headers = resp.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(capacity));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(decision.remaining));
    resp
}

/// The per-address registration limit.
pub fn check_registration(app: &App, ip: Option<IpAddr>) -> Result<(), ApiError> {
    let key = ip.map_or_else(|| "anonymous".to_string(), |ip| ip.to_string());
    let decision = app.limits.registrations.check(&key);
    if decision.allowed {
        Ok(())
    } else {
        Err(too_many(decision.retry_after_secs, "too many registrations from this address, try again later"))
    }
}

/// The request rate limit and the registration limit of one host.
pub struct Limits {
    pub requests: RateLimiter,
    pub registrations: RateLimiter,
}

impl Limits {
    pub fn new(requests_per_minute: u32, registrations_per_hour: u32) -> Arc<Self> {
        Arc::new(Limits {
            requests: RateLimiter::per_minute(requests_per_minute),
            registrations: RateLimiter::per_hour(registrations_per_hour),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_then_refills() {
        let rl = RateLimiter::per_minute(60);
        let t0 = Instant::now();
        for i in 0..60 {
            let d = rl.check_at("k", 60, t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 59 - i);
        }
        let refused = rl.check_at("k", 60, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert!(rl.check_at("other", 60, t0).allowed, "keys are independent");
        assert!(rl.check_at("k", 60, t0 + Duration::from_millis(1000)).allowed, "one token per second");
        assert!(!rl.check_at("k", 60, t0 + Duration::from_millis(1000)).allowed);
    }

    #[test]
    fn hourly_buckets_refill_by_the_hour() {
        let rl = RateLimiter::per_hour(2);
        let t0 = Instant::now();
        assert!(rl.check_at("ip", 2, t0).allowed && rl.check_at("ip", 2, t0).allowed);
        let refused = rl.check_at("ip", 2, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1800);
        assert!(rl.check_at("ip", 2, t0 + Duration::from_secs(1800)).allowed);
    }
}
