//! The agents' operations: registration, claiming, profile updates, and the views of one
//! agent or of the directory.

use std::collections::HashMap;

use super::model::{AgentRow, ComponentSummary, DirectoryQuery, RegisterRequest, ServiceSummary, UpdateRequest};
use super::names::{name_key, normalize, slugify};
use super::store::{self, NewAgent};
use super::AgentError;
use crate::db::page::Page;
use crate::db::sql::Arg;
use crate::db::{is_unique_violation, new_id};
use crate::identity::{store as keys, KeyKind, NewKey};
use crate::secrets::{hash_secret, random_token};
use crate::state::App;
use crate::transaction;
use crate::validate::{self, fail};
use crate::wallet::ledger;
use agora_runtime::Kind;

pub const MAX_PRICE_CENTS: i64 = 100_000_000;

/// A new agent, with the secrets shown this once.
pub struct Registration {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub api_key: String,
    pub referral_code: String,
    pub claim_token: String,
    pub capabilities: Vec<String>,
    pub balance: i64,
}

/// The optional contact and runtime fields, checked.
struct Fields {
    owner_email: Option<String>,
    avatar_url: Option<String>,
    webhook_url: Option<String>,
    endpoint_url: Option<String>,
    system_prompt: Option<String>,
}

fn opt<T>(v: Option<&str>, f: impl Fn(&str) -> Result<T, validate::Invalid>) -> Result<Option<T>, validate::Invalid> {
    v.map(str::trim).filter(|s| !s.is_empty()).map(f).transpose()
}

/// A URL Agora will call (webhook, endpoint): https unless insecure URLs are allowed, and
/// never an internal address unless private targets are allowed.
pub fn callable_url(app: &App, field: &str, value: &str) -> Result<String, validate::Invalid> {
    let http_ok = app.config.access.allow_insecure_urls;
    validate::outbound_url(field, value, http_ok, app.config.execution.allow_private_http)
}

fn check_fields(
    app: &App,
    owner_email: Option<&str>,
    avatar_url: Option<&str>,
    webhook_url: Option<&str>,
    endpoint_url: Option<&str>,
    system_prompt: Option<&str>,
) -> Result<Fields, validate::Invalid> {
    Ok(Fields {
        owner_email: opt(owner_email, |v| validate::email("ownerEmail", v))?,
        avatar_url: opt(avatar_url, |v| validate::web_url("avatarUrl", v, true))?,
        webhook_url: opt(webhook_url, |v| callable_url(app, "webhookUrl", v))?,
        endpoint_url: opt(endpoint_url, |v| callable_url(app, "endpointUrl", v))?,
        system_prompt: opt(system_prompt, |v| validate::optional_text("systemPrompt", v, 20_000))?,
    })
}

/// A `system_prompt` agent's gateway mode or model name.
fn check_model(value: &str) -> Result<String, validate::Invalid> {
    if value.len() > 200 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(fail("model", "must be a mode (auto, fast, max) or a model name, without spaces"));
    }
    Ok(value.to_string())
}

fn name_taken(name: &str) -> AgentError {
    AgentError::NameTaken(name.to_string())
}

pub async fn register(app: &App, req: &RegisterRequest) -> Result<Registration, AgentError> {
    let name = normalize("name", &req.name)?;
    let description = validate::optional_text("description", req.description.as_deref().unwrap_or(""), 5_000)?;
    let capabilities = validate::labels("capabilities", req.capabilities.as_deref().unwrap_or(&[]), 32)?;
    let tags = validate::labels("tags", req.tags.as_deref().unwrap_or(&[]), 32)?;
    let price = validate::cents("price_per_task", req.price_per_task.unwrap_or(0), 0, MAX_PRICE_CENTS)?;
    let f = check_fields(
        app,
        req.owner_email.as_deref(),
        req.avatar_url.as_deref(),
        req.webhook_url.as_deref(),
        req.endpoint_url.as_deref(),
        req.system_prompt.as_deref(),
    )?;
    let model = opt(req.model.as_deref(), check_model)?;

    let id = new_id();
    let mut slug = slugify(&name);
    if slug.is_empty() {
        slug = format!("agent-{}", random_token(6).to_lowercase());
    }
    let referral_code =
        format!("{}-{}", &slug[..slug.len().min(20)].trim_end_matches('-'), random_token(6).to_lowercase());
    let key = NewKey::generate(KeyKind::Agent);
    let claim_token = random_token(32);
    let signup_credits = app.config.money.signup_credits;

    let endpoint_secret = random_token(40);
    let claim_token_hash = hash_secret(&claim_token);
    transaction!(app.db, |tx| async {
        let referred_by = match req.referral_code.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(code) => Some(
                store::id_by_referral_code(&mut *tx, code)
                    .await?
                    .ok_or_else(|| fail("referralCode", "no agent has this referral code"))?,
            ),
            None => None,
        };
        let new = NewAgent {
            id: &id,
            name: &name,
            slug: &slug,
            description: &description,
            owner_email: f.owner_email.as_deref(),
            avatar_url: f.avatar_url.as_deref(),
            webhook_url: f.webhook_url.as_deref(),
            endpoint_url: f.endpoint_url.as_deref(),
            system_prompt: f.system_prompt.as_deref(),
            model: model.as_deref(),
            capabilities: &capabilities,
            tags: &tags,
            price_per_task_cents: price,
            claim_token_hash: &claim_token_hash,
            referral_code: &referral_code,
            referred_by: referred_by.as_deref(),
            endpoint_secret: &endpoint_secret,
        };
        if let Err(e) = store::insert(&mut *tx, &new).await {
            return Err(if is_unique_violation(&e) { name_taken(&name) } else { e.into() });
        }
        keys::insert(&mut *tx, &key, Some(&id), "default").await?;
        ledger::open_wallet_in(&mut *tx, &id, signup_credits).await?;
        Ok::<_, AgentError>(())
    })?;

    Ok(Registration {
        id,
        name,
        slug,
        api_key: key.key,
        referral_code,
        claim_token,
        capabilities,
        balance: signup_credits,
    })
}

/// Claims the agent holding `token` for its human owner.
pub async fn claim(app: &App, token: &str) -> Result<AgentRow, AgentError> {
    let token_hash = hash_secret(token.trim());
    let outcome = transaction!(app.db, |c| store::claim(c, &token_hash))?;
    match outcome {
        None => Err(AgentError::InvalidClaimToken),
        Some((_, false)) => Err(AgentError::AlreadyClaimed),
        Some((id, true)) => get(app, &id).await,
    }
}

pub async fn get(app: &App, id: &str) -> Result<AgentRow, AgentError> {
    store::get(&app.db, id).await?.ok_or(AgentError::NotFound)
}

/// Applies a partial update of the agent's own profile.
pub async fn update(app: &App, agent_id: &str, req: &UpdateRequest) -> Result<(), AgentError> {
    let mut changes: Vec<(&'static str, Arg)> = Vec::new();
    let text_or_null = |v: Option<String>| v.map_or(Arg::Null, Arg::Text);
    let mut new_name = None;
    if let Some(name) = &req.name {
        let name = normalize("name", name)?;
        changes.push(("name_key", Arg::Text(name_key(&name))));
        changes.push(("name", Arg::Text(name.clone())));
        new_name = Some(name);
    }
    if let Some(d) = &req.description {
        changes.push(("description", Arg::Text(validate::optional_text("description", d, 5_000)?)));
    }
    let f = check_fields(
        app,
        req.owner_email.as_deref(),
        req.avatar_url.as_deref(),
        req.webhook_url.as_deref(),
        req.endpoint_url.as_deref(),
        req.system_prompt.as_deref(),
    )?;
    for (column, given, value) in [
        ("owner_email", req.owner_email.is_some(), f.owner_email),
        ("avatar_url", req.avatar_url.is_some(), f.avatar_url),
        ("webhook_url", req.webhook_url.is_some(), f.webhook_url),
        ("endpoint_url", req.endpoint_url.is_some(), f.endpoint_url),
        ("system_prompt", req.system_prompt.is_some(), f.system_prompt),
    ] {
        if given {
            changes.push((column, text_or_null(value)));
        }
    }
    if let Some(model) = &req.model {
        changes.push(("model", text_or_null(opt(Some(model), check_model)?)));
    }
    let capabilities = req.capabilities.as_deref().map(|c| validate::labels("capabilities", c, 32)).transpose()?;
    if let Some(caps) = &capabilities {
        changes.push(("capabilities", Arg::Text(serde_json::to_string(caps).unwrap_or_default())));
    }
    if let Some(tags) = &req.tags {
        let tags = validate::labels("tags", tags, 32)?;
        changes.push(("tags", Arg::Text(serde_json::to_string(&tags).unwrap_or_default())));
    }
    if let Some(p) = req.price_per_task {
        changes.push(("price_per_task_cents", Arg::Int(validate::cents("price_per_task", p, 0, MAX_PRICE_CENTS)?)));
    }
    if let Some(a) = req.available_for_hire {
        changes.push(("available_for_hire", Arg::Int(a.into())));
    }
    if let Some(id) = req.component_id.as_deref().map(str::trim) {
        if id.is_empty() {
            changes.push(("component_id", Arg::Null));
        } else {
            let c = crate::components::store::get(&app.db, id)
                .await?
                .ok_or_else(|| fail("componentId", "no such component"))?;
            if c.publisher_id != agent_id {
                return Err(AgentError::Forbidden("an agent can only run components it published".into()));
            }
            if c.kind() != Some(Kind::Agent) {
                return Err(fail("componentId", &format!("this is a {} component, not an agent", c.kind)).into());
            }
            changes.push(("component_id", Arg::Text(c.id)));
        }
    }
    transaction!(app.db, |c| async {
        match store::update(&mut *c, agent_id, changes.clone()).await {
            Ok(true) => {}
            Ok(false) => return Err(AgentError::NotFound),
            Err(e) if is_unique_violation(&e) => return Err(name_taken(new_name.as_deref().unwrap_or_default())),
            Err(e) => return Err(e.into()),
        }
        if let Some(caps) = &capabilities {
            store::set_capabilities(&mut *c, agent_id, caps).await?;
        }
        Ok(())
    })
}

pub async fn set_webhook(app: &App, agent_id: &str, url: &str) -> Result<(), AgentError> {
    let url = callable_url(app, "webhook_url", url)?;
    transaction!(app.db, |c| store::update(c, agent_id, vec![("webhook_url", Arg::Text(url.clone()))]))?;
    Ok(())
}

/// An agent with what its profile shows beside its own row.
pub struct Profile {
    pub row: AgentRow,
    pub services: Vec<ServiceSummary>,
    pub component: Option<ComponentSummary>,
}

async fn profile_of(app: &App, row: AgentRow) -> Result<Profile, AgentError> {
    let services = store::services_of(&app.db, &[&row.id]).await?.remove(&row.id).unwrap_or_default();
    let component = store::components_of(&app.db, &[&row]).await?.into_values().next();
    Ok(Profile { row, services, component })
}

/// The agent by id.
pub async fn profile(app: &App, id: &str) -> Result<Profile, AgentError> {
    profile_of(app, get(app, id).await?).await
}

/// The agent by id or handle.
pub async fn find_profile(app: &App, id_or_slug: &str) -> Result<Profile, AgentError> {
    let row = store::find(&app.db, id_or_slug).await?.ok_or(AgentError::NotFound)?;
    profile_of(app, row).await
}

/// One page of the directory, and the total.
pub async fn directory(app: &App, q: &DirectoryQuery, page: &Page) -> Result<(Vec<Profile>, i64), AgentError> {
    let (rows, total) = store::directory(&app.db, q, page).await?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut services: HashMap<String, Vec<ServiceSummary>> = store::services_of(&app.db, &ids).await?;
    let components = store::components_of(&app.db, &rows.iter().collect::<Vec<_>>()).await?;
    let profiles = rows
        .into_iter()
        .map(|row| {
            let component = row.component_id.as_ref().and_then(|id| components.get(id).cloned());
            Profile { services: services.remove(&row.id).unwrap_or_default(), component, row }
        })
        .collect();
    Ok((profiles, total))
}
