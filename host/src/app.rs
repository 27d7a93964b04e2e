//! Application state, the router with its middleware, and the server loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::rate_limit::RateLimiter;
use crate::http::{idempotency, rate_limit};
use crate::kv::DbKv;
use crate::runtime::{KvStore, Runtime, RuntimeConfig};
use crate::wallet::ledger::Ledger;
use crate::wallet::payouts::{ManualPayouts, PayoutProvider};
use crate::{admin, agents, components, execute, health, tasks, wallet};

pub struct App {
    pub config: Config,
    pub db: Db,
    pub ledger: Ledger,
    pub limiter: RateLimiter,
    pub payouts: Arc<dyn PayoutProvider>,
    pub runtime: Arc<Runtime>,
    pub kv: Arc<dyn KvStore>,
}

impl App {
    /// Connects to the database and applies pending migrations.
    pub async fn open(config: Config) -> anyhow::Result<Arc<App>> {
        let db = Db::connect(&config.database_url, config.db_max_connections).await?;
        db.migrate().await?;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: config.data_dir.join("components"),
            max_concurrent: config.max_concurrent_executions,
            queue_timeout: Duration::from_secs(10),
            max_memory_bytes: config.exec_memory_bytes,
        })?;
        Ok(Arc::new(App {
            runtime: Arc::new(runtime),
            kv: Arc::new(DbKv { db: db.clone(), quota_bytes: config.kv_quota_bytes }),
            ledger: Ledger { db: db.clone(), fee_bps: config.platform_fee_bps },
            limiter: RateLimiter::new(config.rate_limit_per_minute),
            payouts: Arc::new(ManualPayouts),
            db,
            config,
        }))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Agora API", description = "Agent runtime platform: marketplace, wallet and sandboxed execution."),
    modifiers(&Security),
    tags((name = "agents"), (name = "wallet"), (name = "components"), (name = "execution"), (name = "tasks"),
        (name = "admin"), (name = "health"))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Adds the error answers any operation can give (bad request, throttling; for bodies, too
/// large and invalid; for idempotent ones, key conflicts; for secured ones, bad or wrong keys)
/// to every operation, so that each handler documents only its own outcomes.
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build()
        };
        for item in api.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let mut add = |code: &str, description: &str| {
                    op.responses.responses.entry(code.to_string()).or_insert_with(|| error(description).into());
                };
                add("400", "Malformed request: bad JSON, query or header");
                add("429", "Rate limited; see Retry-After");
                if op.request_body.is_some() {
                    add("413", "Request body too large");
                    add("422", "Invalid field");
                }
                let idempotent = op.parameters.iter().flatten().any(|p| p.name.eq_ignore_ascii_case("idempotency-key"));
                if idempotent {
                    add("409", "A request with this Idempotency-Key is still running");
                    add("422", "This Idempotency-Key was used with a different request");
                }
                if op.security.is_some() {
                    add("401", "Missing or invalid API key");
                    add("403", "This key may not do this");
                }
            }
        }
    }
}

pub fn router(app: Arc<App>) -> Router {
    let money = wallet::routes::money_router()
        .merge(execute::routes::money_router())
        .merge(tasks::routes::money_router())
        .layer(middleware::from_fn_with_state(app.clone(), idempotency::idempotent));
    let (routes, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(agents::routes::router())
        .merge(wallet::routes::router())
        .merge(components::routes::router(app.config.max_component_bytes))
        .merge(execute::routes::router())
        .merge(tasks::routes::router())
        .merge(money)
        .merge(admin::router())
        .split_for_parts();
    let mut api = api;
    // After the merge: the routers bring the paths.
    utoipa::Modify::modify(&CommonErrors, &mut api);
    let api = Arc::new(api);

    let request_id_span = |req: &Request<_>| {
        let id = req.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
    };
    routes
        .route("/openapi.json", get(move || async move { Json(api.as_ref().clone()) }))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint")
        })
        .layer(middleware::from_fn_with_state(app.clone(), rate_limit::limit))
        .layer(DefaultBodyLimit::max(app.config.max_body_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_id_span)
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(CatchPanicLayer::custom(panic_response)),
        )
        .with_state(app)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

/// Serves until SIGINT or SIGTERM, then stops accepting connections and lets in-flight
/// requests finish (for at most the configured grace period).
pub async fn serve(app: Arc<App>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(app.config.listen).await?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = ?app.db.backend, "listening");
    // A plain line on stdout that scripts and tests can wait for.
    println!("agora listening on http://{addr}");

    let purge_app = app.clone();
    let purger = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = idempotency::purge_expired(&purge_app).await {
                tracing::warn!(error = %e, "purging idempotency keys failed");
            }
            if let Err(e) = execute::recover::recover_interrupted(&purge_app).await {
                tracing::warn!(error = %e, "recovering interrupted executions failed");
            }
        }
    });

    let grace = Duration::from_secs(app.config.shutdown_grace_secs);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, router(app.clone()).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop_tx.send(true);
        });
    let deadline = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        result = server => result?,
        () = deadline => tracing::warn!("grace period over; dropping unfinished requests"),
    }
    purger.abort();
    app.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
