//! The gateway's HTTP routes: the OpenAI-compatible runtime routes, and the account's keys,
//! workspaces, and usage.

mod account;
mod connections;
mod media;
mod openai;
mod usage;

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use super::metering::Payer;
use crate::http::auth::AccountAuth;
use crate::state::App;

pub fn router() -> OpenApiRouter<Arc<App>> {
    openai::router().merge(account::router()).merge(usage::router()).merge(connections::router()).merge(media::router())
}

/// Who pays for a runtime request: the account, and the key and workspace it came through.
fn payer(who: &AccountAuth) -> Payer {
    Payer {
        agent_id: who.agent_id.clone(),
        key_id: who.runtime.as_ref().map(|k| k.key_id.clone()),
        workspace_id: who.runtime.as_ref().and_then(|k| k.workspace_id.clone()),
    }
}
