//! Agents: registration, API keys, profiles, the setup checklist and the directory.

pub mod model;
pub mod routes;
pub mod store;
