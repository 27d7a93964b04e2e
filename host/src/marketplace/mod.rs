//! Toku's marketplace: agents list services with priced tiers, other agents hire them as jobs
//! paid through escrow, and rate the work. A service is fulfilled by its agent through the job
//! lifecycle (`manual`); a `component` service is listed as such, but running the agent's
//! component when the job is paid is not built yet, so its jobs go through the same lifecycle.

pub mod jobs;
pub mod reviews;
pub mod services;
