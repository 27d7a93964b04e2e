//! The account's own routes in a request's candidate list: its healthy local endpoints first
//! (chat only), then each managed candidate preceded by the same model called with the
//! account's provider key when it has one for that upstream's provider. A failure of an own
//! route always moves on to the next candidate, so the managed one stays the fallback.

use std::sync::Arc;

use super::errors::GatewayError;
use super::local_endpoints::{self, LocalRoute};
use super::metering::Payer;
use super::provider_keys::{self, UsableKey};
use super::routing::{Billing, Candidate};
use super::upstreams::Upstream;
use crate::state::App;

#[derive(Default)]
pub struct OwnRoutes {
    pub keys: Vec<UsableKey>,
    pub local: Vec<LocalRoute>,
}

/// The payer's usable keys, and for chat its healthy endpoints (serving `requested` if they can).
pub async fn load(app: &App, payer: &Payer, requested: Option<&str>) -> Result<OwnRoutes, GatewayError> {
    let workspace = payer.workspace_id.as_deref();
    let keys = provider_keys::usable(app, &payer.agent_id, workspace).await?;
    let local = match requested {
        Some(model) => local_endpoints::usable(app, &payer.agent_id, workspace, model).await?,
        None => Vec::new(),
    };
    Ok(OwnRoutes { keys, local })
}

pub fn apply(candidates: Vec<Candidate>, own: &OwnRoutes) -> Vec<Candidate> {
    if own.keys.is_empty() && own.local.is_empty() {
        return candidates;
    }
    let mut out: Vec<Candidate> = own
        .local
        .iter()
        .map(|l| Candidate {
            upstream: l.upstream.clone(),
            model: 0,
            billing: Billing::Local { endpoint_id: l.id.clone() },
        })
        .collect();
    for c in candidates {
        let key = own.keys.iter().find(|k| c.upstream.provider.as_deref() == Some(k.provider.as_str()));
        if let Some(key) = key {
            let upstream = Upstream { api_key: key.secret.clone(), ..(*c.upstream).clone() };
            out.push(Candidate {
                upstream: Arc::new(upstream),
                model: c.model,
                billing: Billing::Byok { key_id: key.id.clone() },
            });
        }
        out.push(c);
    }
    out
}
