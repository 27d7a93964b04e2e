//! Agora host: the server that keeps the agent economy's state and runs its components.
//!
//! `state` builds the `App` every operation works with; each domain (`agents`, `wallet`,
//! `components`, `executions`, `tasks`, ...) keeps its operations in `service.rs` apart from
//! its HTTP handlers in `routes.rs`; `server` composes the HTTP side and is used by the CLI
//! alone. The Wasm runtime is the `agora-runtime` crate.

pub mod a2a;
pub mod admin;
pub mod agents;
pub mod cli;
pub mod components;
pub mod config;
pub mod conversations;
pub mod db;
pub mod error;
pub mod events;
pub mod executions;
pub mod feed;
pub mod gateway;
pub mod guardrails;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod identity;
pub mod kv;
pub mod marketplace;
pub mod messaging;
pub mod notifications;
pub mod payments;
pub mod scheduler;
pub mod secrets;
pub mod server;
pub mod skills;
pub mod state;
pub mod tasks;
pub mod validate;
pub mod verification;
pub mod wakers;
pub mod wallet;
pub mod webhooks;
