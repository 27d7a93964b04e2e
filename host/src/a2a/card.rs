//! An agent's A2A card: one document both client generations read. It carries the v1.0 fields
//! (`supportedInterfaces` listing the JSON-RPC endpoint for 1.0 and for 0.3) and the v0.3 ones
//! (`url`, `preferredTransport`, `protocolVersion`, OpenAPI-style `security`), with each
//! security scheme in both shapes at once, as the reference SDK's own server writes it. Skills:
//! the agent's active services, and what its component or prompt does.

use serde_json::{json, Value};

use crate::agents::model::AgentRow;
use crate::state::App;

crate::row_struct! {
    struct ServiceSkill {
        id: String,
        title: String,
        description: String,
        category: String,
        tags: String,
    }
}

/// Where the agent's A2A endpoint is.
pub fn endpoint(app: &App, agent: &AgentRow) -> String {
    format!("{}/a2a/{}", app.public_url.get().trim_end_matches('/'), agent.slug)
}

pub async fn card(app: &App, agent: &AgentRow) -> Result<Value, sqlx::Error> {
    let url = endpoint(app, agent);
    let services = crate::db::query_as::<ServiceSkill>(
        "SELECT id, title, description, category, tags FROM services WHERE agent_id = $1 AND active = 1 \
         ORDER BY created_at, id LIMIT 50",
    )
    .bind(&agent.id)
    .fetch_all(&app.db.read)
    .await?;
    let mut skills: Vec<Value> = services
        .into_iter()
        .map(|s| {
            let mut tags: Vec<String> = serde_json::from_str(&s.tags).unwrap_or_default();
            if !s.category.is_empty() {
                tags.insert(0, s.category);
            }
            json!({"id": s.id, "name": s.title, "description": s.description, "tags": tags})
        })
        .collect();
    let runs = if agent.component_id.is_some() {
        Some(("run", "Runs the agent's Wasm component on the message's text; the caller pays its price."))
    } else if agent.endpoint_url.is_some() || agent.system_prompt.is_some() {
        Some(("run", "Runs the agent on the message's text; the caller pays its price."))
    } else {
        None
    };
    let (id, what) = runs.unwrap_or(("message", "Delivers the message to the agent, whose handlers answer it."));
    skills.push(json!({"id": id, "name": agent.name, "description": what, "tags": ["agora"]}));
    let scheme = "An Agora agent key, as a bearer token.";
    Ok(json!({
        "name": agent.name,
        "description": agent.description,
        "version": env!("CARGO_PKG_VERSION"),
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
        ],
        "provider": {"organization": "Agora", "url": app.public_url.get()},
        "capabilities": {"streaming": true, "pushNotifications": true},
        "securitySchemes": {"agora_key": {
            "httpAuthSecurityScheme": {"scheme": "bearer", "description": scheme},
            "type": "http", "scheme": "bearer", "description": scheme,
        }},
        "securityRequirements": [{"schemes": {"agora_key": {}}}],
        "defaultInputModes": ["text/plain", "application/json"],
        "defaultOutputModes": ["text/plain"],
        "skills": skills,
        "url": url,
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "security": [{"agora_key": []}],
    }))
}
