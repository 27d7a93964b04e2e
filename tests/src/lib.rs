//! The end-to-end test harness: the real `agora` binary (`server`), its responses (`reply`),
//! and fixtures per domain. Used by the one end-to-end test binary (`api/`) and by the
//! benchmarks.

pub mod fixtures;
pub mod reply;
pub mod server;
pub mod wait;

pub use agora_testkit::guest;
pub use fixtures::checkout::{browser, pay_checkout, press_pay};
pub use fixtures::components::{bloat_variant, Publisher};
pub use fixtures::peer::TestHttp;
pub use reply::{Reply, StatusCode};
pub use server::{agora_bin, backend, fresh_database_url, new_operator_key, random_name, Backend, Options, Server};
pub use wait::eventually;
