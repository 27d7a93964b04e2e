//! Agora host: the server that keeps the agent economy's state and runs its components.

pub mod admin;
pub mod agents;
pub mod app;
pub mod cli;
pub mod components;
pub mod config;
pub mod db;
pub mod error;
pub mod execute;
pub mod health;
pub mod http;
pub mod kv;
pub mod net;
pub mod runtime;
pub mod tasks;
pub mod wallet;
