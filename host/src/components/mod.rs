//! Components: publishers' signing keys, publishing (validated, signed, content-addressed,
//! compiled once) and the component catalogue.

pub mod model;
pub mod routes;
pub mod signing;
pub mod store;
pub mod trial;
