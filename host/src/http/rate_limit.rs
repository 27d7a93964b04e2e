//! Per-key rate limiting: a token bucket per API key (or per client address for anonymous
//! requests) holding one minute's allowance and refilling continuously. Buckets live in this
//! process; behind a load balancer each host enforces its own share.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;

use crate::app::App;
use crate::error::ApiError;
use crate::http::auth::{hash_secret, presented_key};

pub struct RateLimiter {
    per_minute: u32,
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
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: DashMap::new(), calls: AtomicU64::new(0) }
    }

    pub fn check(&self, key: &str) -> Decision {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Decision {
        if self.calls.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            self.forget_full_buckets(now);
        }
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
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

    /// A bucket untouched for a minute is full again and need not be kept.
    fn forget_full_buckets(&self, now: Instant) {
        self.buckets.retain(|_, b| now.saturating_duration_since(b.updated) < Duration::from_secs(60));
    }
}

fn client_key(req: &Request) -> String {
    if let Some(key) = presented_key(req.headers()) {
        return format!("key:{}", &hash_secret(key)[..24]);
    }
    match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
        None => "anonymous".to_string(),
    }
}

pub async fn limit(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if matches!(req.uri().path(), "/health" | "/ready") {
        return next.run(req).await;
    }
    let decision = app.limiter.check(&client_key(&req));
    let mut resp = if decision.allowed {
        next.run(req).await
    } else {
        let mut err = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests, slow down");
        err.retry_after_secs = Some(decision.retry_after_secs);
        err.into_response()
    };
    let headers = resp.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(app.limiter.per_minute));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(decision.remaining));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_then_refills() {
        let rl = RateLimiter::new(60);
        let t0 = Instant::now();
        for i in 0..60 {
            let d = rl.check_at("k", t0);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 59 - i);
        }
        let refused = rl.check_at("k", t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 1);
        assert!(rl.check_at("other", t0).allowed, "keys are independent");
        assert!(rl.check_at("k", t0 + Duration::from_millis(1000)).allowed, "one token per second");
        assert!(!rl.check_at("k", t0 + Duration::from_millis(1000)).allowed);
    }
}
