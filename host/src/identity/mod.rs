//! Identity: API keys for agents and operators, who a presented key belongs to, and the
//! operator bootstrap.
//!
//! A key is `ak_` (agent), `op_` (operator) or `tok_` (a gateway runtime key) followed by 48
//! random base62 characters. The tag and the next 8 characters are its visible prefix, used to
//! find it; only a SHA-256 hash of the
//! whole key is stored, and hashes are compared in constant time. Keys are high-entropy, so a
//! fast hash is enough (no password stretching needed).

pub mod cache;
pub mod model;
pub mod service;
pub mod store;

pub use cache::KeyCache;
pub use model::{KeyKind, NewKey, Principal, RuntimeKey};
pub use service::AuthError;
