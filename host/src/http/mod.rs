//! Cross-cutting HTTP pieces: authentication, JSON and query extraction, idempotency,
//! rate limiting, input validation.

pub mod auth;
pub mod idempotency;
pub mod json;
pub mod rate_limit;
pub mod validate;
