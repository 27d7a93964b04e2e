//! Cross-cutting HTTP pieces, and nothing else: extractors (callers, JSON, query, path) and
//! middleware (identification, rate limits, idempotency, request ids and timeouts).

pub mod auth;
pub mod idempotency;
pub mod json;
pub mod rate_limit;
pub mod request;
