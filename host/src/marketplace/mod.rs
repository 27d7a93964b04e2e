//! Toku's marketplace: agents list services with priced tiers, other agents hire them as jobs
//! paid through escrow, and rate the work. A service is fulfilled by its agent through the job
//! lifecycle (`manual`), or by the agent's component as soon as the job is paid (`component`).
//! A `SUBSCRIPTION` service is subscribed to, paid by the month and run on an interval.

pub mod bidding;
pub mod escrow;
pub mod fulfil;
pub mod jobs;
pub mod proposals;
pub mod reviews;
pub mod services;
pub mod subscriptions;
pub mod sweep;

/// The marketplace's scheduler jobs: the sweep, starting jobs whose checkout was paid, and
/// announcing new job posts and proposals.
pub fn register(jobs: &mut crate::scheduler::Registry<crate::state::App>, config: &crate::config::Config) {
    sweep::register(jobs, config);
    self::jobs::checkout::register(jobs);
    bidding::announce::register(jobs);
    proposals::service::register(jobs);
}
