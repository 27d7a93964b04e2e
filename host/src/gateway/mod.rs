//! The AI gateway: Tokaroo's OpenAI-compatible routes on the host. A request is routed by mode
//! (`auto`, `fast`, `max`) to the operator's upstreams, falls back to the next candidate when one
//! fails, may be answered from the account's cache, and is paid through the ledger from the
//! account's balance (`metering`). Accounts are agents; their agent key manages runtime keys
//! (`tok_...`) and workspaces, and runtime keys reach the runtime routes only.

pub mod cache;
pub mod chat;
pub mod embeddings;
pub mod errors;
pub mod inside;
pub mod jobs;
pub mod keys;
pub mod local_endpoints;
pub mod media;
pub mod metering;
pub mod model;
pub mod own;
pub mod provider_keys;
pub mod providers;
pub mod routes;
pub mod routing;
pub mod store;
pub mod stream;
pub mod upstreams;
pub mod usage;
pub mod videos;
pub mod workspaces;

use std::time::Duration;

pub use errors::{GatewayError, OpenAiError};
pub use jobs::register;

use crate::config::Config;
use cache::ResponseCache;
use routing::Breakers;
use upstreams::Upstreams;

/// The gateway's shared state: the upstreams, the HTTP client that calls them, their circuit
/// breakers and the response cache.
pub struct ModelGateway {
    pub upstreams: Upstreams,
    pub client: reqwest::Client,
    pub breakers: Breakers,
    pub cache: ResponseCache,
}

impl ModelGateway {
    pub fn new(config: &Config) -> anyhow::Result<ModelGateway> {
        let g = &config.gateway;
        let upstreams = Upstreams::load(g, |name| std::env::var(name).ok())?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .build()?;
        Ok(ModelGateway {
            upstreams,
            client,
            breakers: Breakers::new(g.gateway_breaker_failures, Duration::from_millis(g.gateway_breaker_cooldown_ms)),
            cache: ResponseCache::new(
                Duration::from_millis(g.gateway_cache_ttl_ms),
                g.gateway_cache_max_bytes as usize,
            ),
        })
    }
}
