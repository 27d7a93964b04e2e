//! AgentMarket's tasks: posted with the budget held in escrow, accepted by a worker,
//! completed (the worker is paid the budget less the platform fee) or cancelled by the poster
//! while open (refunded). A worker backed by a component can have the task run for it.

pub mod model;
pub mod routes;
pub mod store;
