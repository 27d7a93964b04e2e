use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::*;
use super::{signing, store};
use crate::agents::model::PageMeta;
use crate::app::App;
use crate::db::{is_unique_violation, new_id, rfc3339};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::AgentAuth;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::validate;
use crate::runtime::{ComponentError, Kind};

pub fn router(max_component_bytes: usize) -> OpenApiRouter<Arc<App>> {
    // Base64 makes the body a third larger than the component.
    let upload_limit = max_component_bytes / 3 * 4 + 64 * 1024;
    OpenApiRouter::new()
        .routes(routes!(publish))
        .layer(DefaultBodyLimit::max(upload_limit))
        .routes(routes!(list_components))
        .routes(routes!(get_component))
        .routes(routes!(super::trial::run_component))
        .routes(routes!(add_signing_key, list_signing_keys))
}

impl From<ComponentError> for ApiError {
    fn from(e: ComponentError) -> Self {
        let msg = e.to_string();
        match e {
            ComponentError::NotAComponent(_) | ComponentError::Compile(_) => {
                ApiError::bad_request("invalid_component", msg)
            }
            ComponentError::WrongWorld(_) => ApiError::bad_request("wrong_world", msg),
            ComponentError::TooLarge => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "component_too_large", msg),
        }
    }
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && n.starts_with(|c: char| c.is_ascii_alphanumeric());
    ok.then(|| n.to_string()).ok_or_else(|| {
        validate::fail("name", "1 to 64 lowercase letters, digits, - or _, starting with a letter or digit")
    })
}

fn check_capabilities(kind: Kind, caps: &Capabilities) -> Result<Capabilities, ApiError> {
    if kind == Kind::Policy && (caps.kv || !caps.http.is_empty()) {
        return Err(validate::fail("capabilities", "a policy is pure: it may only log"));
    }
    if caps.http.len() > 32 {
        return Err(validate::fail("capabilities.http", "at most 32 hosts"));
    }
    let mut http = Vec::new();
    for host in &caps.http {
        let h = host.trim().to_ascii_lowercase();
        let bare = h.strip_prefix("*.").unwrap_or(&h);
        let ok = !bare.is_empty()
            && bare.len() <= 253
            && bare
                .split('.')
                .all(|l| !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !ok {
            return Err(validate::fail("capabilities.http", &format!("{host:?} is not a host name or *.domain")));
        }
        if !http.contains(&h) {
            http.push(h);
        }
    }
    Ok(Capabilities { kv: caps.kv, http })
}

#[derive(Serialize, ToSchema)]
pub struct PublishResponse {
    pub success: bool,
    pub component: ComponentView,
}

/// Publish a component: validated against its declared world, signature checked, stored
/// content-addressed, compiled once.
#[utoipa::path(post, path = "/api/components", tag = "components", security(("api_key" = [])),
    request_body = PublishRequest,
    responses((status = 201, body = PublishResponse), (status = 400, description = "not a component of that world", body = ErrorBody),
        (status = 409, description = "this name and version exist", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, description = "bad manifest or signature", body = ErrorBody)))]
async fn publish(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<PublishRequest>,
) -> ApiResult<(StatusCode, Json<PublishResponse>)> {
    let kind: Kind = req.kind.parse().map_err(|_| validate::fail("kind", "must be agent, skill, handler or policy"))?;
    let name = check_name(&req.name)?;
    let version = req.version.trim().to_string();
    if !is_semver(&version) {
        return Err(validate::fail("version", "must be a semantic version like 1.0.0"));
    }
    let description = validate::optional_text("description", req.description.as_deref().unwrap_or(""), 2_000)?;
    let capabilities = check_capabilities(kind, &req.capabilities)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(req.component.trim())
        .map_err(|_| validate::fail("component", "must be the component's bytes in base64"))?;
    if bytes.len() > app.config.max_component_bytes {
        return Err(ComponentError::TooLarge.into());
    }
    let digest_bytes: [u8; 32] = Sha256::digest(&bytes).into();
    let digest = hex::encode(digest_bytes);

    let signing_key_id = match req.signature.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(sig) => {
            let sig = signing::parse_signature(sig).map_err(|m| validate::fail("signature", &m))?;
            let keys = store::signing_keys(&app.db, &who.agent_id).await?;
            let found = keys.into_iter().find(|(_, public, _)| {
                signing::parse_public_key(public).is_ok_and(|k| signing::verifies(&k, &digest_bytes, &sig))
            });
            Some(found.map(|(id, _, _)| id).ok_or_else(|| {
                ApiError::unprocessable(
                    "invalid_signature",
                    "the signature does not verify with any of your registered signing keys for these bytes",
                )
            })?)
        }
        None if app.config.allow_unsigned_components => None,
        None => {
            return Err(ApiError::unprocessable(
                "signature_required",
                "sign the component's SHA-256 digest with a registered key (agora publish does this)",
            ))
        }
    };

    let runtime = app.runtime.clone();
    let (shared, d) = (Arc::new(bytes), digest.clone());
    let checked = shared.clone();
    let info = tokio::task::spawn_blocking(move || {
        let info = runtime.inspect(&checked, kind)?;
        runtime.prepare(&d, &checked, kind)?;
        Ok::<_, ComponentError>(info)
    })
    .await
    .map_err(|e| anyhow::anyhow!("compile task failed: {e}"))??;

    let id = new_id();
    let grants = serde_json::to_string(&capabilities).unwrap_or_default();
    let imports = serde_json::to_string(&info.imports).unwrap_or_default();
    let mut tx = app.db.begin().await?;
    store::put_blob(&mut tx, &digest, &shared).await?;
    let new = store::NewComponent {
        id: &id,
        publisher_id: &who.agent_id,
        kind: kind.as_str(),
        name: &name,
        version: &version,
        description: &description,
        digest: &digest,
        size_bytes: shared.len() as i64,
        grants: &grants,
        imports: &imports,
        signature: req.signature.as_deref().filter(|_| signing_key_id.is_some()),
        signing_key_id: signing_key_id.as_deref(),
    };
    if let Err(e) = store::insert(&mut tx, &new).await {
        return Err(if is_unique_violation(&e) {
            ApiError::conflict("version_exists", format!("you already published {name} {version}"))
        } else {
            e.into()
        });
    }
    tx.commit().await?;
    let row = store::get(&app.db, &id).await?.ok_or_else(ApiError::internal)?;
    Ok((StatusCode::CREATED, Json(PublishResponse { success: true, component: row.view() })))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `agent`, `skill`, `handler` or `policy`.
    pub kind: Option<String>,
    /// Publisher agent id.
    pub publisher: Option<String>,
    /// Search in name and description.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ComponentList {
    pub success: bool,
    pub data: Vec<ComponentView>,
    pub meta: PageMeta,
}

/// The component catalogue, newest first.
#[utoipa::path(get, path = "/api/components", tag = "components", params(ListQuery),
    responses((status = 200, body = ComponentList)))]
async fn list_components(
    State(app): State<Arc<App>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ComponentList>> {
    let (limit, offset) = validate::page(q.limit, q.offset)?;
    let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => Some(
            k.parse::<Kind>()
                .map_err(|_| ApiError::bad_request("invalid_query", "kind must be agent, skill, handler or policy"))?,
        ),
        None => None,
    };
    let filter = store::ListFilter {
        kind: kind.map(Kind::as_str),
        publisher: q.publisher.as_deref().filter(|s| !s.is_empty()),
        q: q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        limit: limit + 1,
        offset,
    };
    let (mut rows, total) = store::list(&app.db, &filter).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let data: Vec<ComponentView> = rows.iter().map(ComponentRow::view).collect();
    Ok(Json(ComponentList {
        success: true,
        meta: PageMeta { total, count: data.len(), limit, offset, has_more, next_cursor: None },
        data,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ComponentResponse {
    pub success: bool,
    pub component: ComponentView,
}

/// One component's metadata: digest, capabilities, publisher.
#[utoipa::path(get, path = "/api/components/{id}", tag = "components", params(("id" = String, Path)),
    responses((status = 200, body = ComponentResponse), (status = 404, body = ErrorBody)))]
async fn get_component(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<ComponentResponse>> {
    let row = store::get(&app.db, &id).await?.ok_or_else(|| ApiError::not_found("component"))?;
    Ok(Json(ComponentResponse { success: true, component: row.view() }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyRequest {
    /// Ed25519 public key, 64 hex characters.
    #[serde(alias = "public_key")]
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyView {
    pub id: String,
    pub public_key: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct SigningKeysResponse {
    pub success: bool,
    pub keys: Vec<SigningKeyView>,
}

async fn keys_response(app: &App, agent_id: &str) -> ApiResult<Json<SigningKeysResponse>> {
    let keys = store::signing_keys(&app.db, agent_id)
        .await?
        .into_iter()
        .map(|(id, public_key, at)| SigningKeyView { id, public_key, created_at: rfc3339(at) })
        .collect();
    Ok(Json(SigningKeysResponse { success: true, keys }))
}

/// Register an Ed25519 public key to sign your components with.
#[utoipa::path(post, path = "/api/agents/me/signing-keys", tag = "components", security(("api_key" = [])),
    request_body = SigningKeyRequest,
    responses((status = 201, body = SigningKeysResponse), (status = 200, description = "already registered", body = SigningKeysResponse)))]
async fn add_signing_key(
    State(app): State<Arc<App>>,
    who: AgentAuth,
    ApiJson(req): ApiJson<SigningKeyRequest>,
) -> ApiResult<(StatusCode, Json<SigningKeysResponse>)> {
    let key = signing::parse_public_key(&req.public_key).map_err(|m| validate::fail("publicKey", &m))?;
    let mut conn = app.db.write.acquire().await?;
    let added = store::add_signing_key(&mut conn, &new_id(), &who.agent_id, &hex::encode(key.to_bytes())).await?;
    drop(conn);
    let status = if added { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, keys_response(&app, &who.agent_id).await?))
}

/// Your registered signing keys.
#[utoipa::path(get, path = "/api/agents/me/signing-keys", tag = "components", security(("api_key" = [])),
    responses((status = 200, body = SigningKeysResponse)))]
async fn list_signing_keys(State(app): State<Arc<App>>, who: AgentAuth) -> ApiResult<Json<SigningKeysResponse>> {
    keys_response(&app, &who.agent_id).await
}
