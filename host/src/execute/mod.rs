//! Direct execution (`POST /api/execute`) and execution records: hold the buyer's budget,
//! run the agent (its Wasm component, or its remote endpoint), then pay the worker its price
//! less the platform fee, bill the metered compute, and release the rest; a failed run
//! refunds the buyer in full.

pub mod endpoint;
pub mod model;
pub mod recover;
pub mod routes;
pub mod run;
pub mod store;
