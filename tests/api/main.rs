//! The end-to-end suite, one binary with one module per domain: the real `agora` binary over
//! HTTP on loopback, on SQLite or PostgreSQL (`AGORA_TEST_BACKEND`).

mod abuse;
mod agents;
mod batches;
mod bidding;
mod components;
mod conversations;
mod crash;
mod credit;
mod errors;
mod executions;
mod feed;
mod gateway;
mod guardrails;
mod hostile;
mod job_settlement;
mod ledger;
mod lifecycle;
mod marketplace;
mod messaging;
mod payments;
mod proposals;
mod scheduler;
mod skills;
mod strangers;
mod subscriptions;
mod tasks;
mod uploads;
mod verification;
mod wallet;
mod webhooks;
