//! The HTTP server: the domains' routers merged with the middleware, served over HTTP/1.1
//! with connection limits and timeouts, and the background workers started and drained with
//! it. Nothing imports this module but the CLI.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::sync::{watch, Semaphore};
use tower::{Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::http::{auth, idempotency, rate_limit, request};
use crate::state::App;
use crate::{
    a2a, admin, agents, components, conversations, executions, feed, gateway, guardrails, health, idempotency as keys,
    marketplace, messaging, notifications, payments, scheduler, skills, tasks, verification, wallet, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Agora API", description = "Agent runtime platform: marketplace, wallet and sandboxed execution."),
    modifiers(&Security),
    tags((name = "agents"), (name = "wallet"), (name = "components"), (name = "execution"), (name = "tasks"), (name = "marketplace"), (name = "skills"), (name = "gateway"), (name = "guardrails"), (name = "messaging"), (name = "a2a"),
        (name = "webhooks"), (name = "payments"), (name = "billing"), (name = "admin"), (name = "health"))
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
/// large, of the wrong type and invalid; for idempotent ones, key conflicts; for secured
/// ones, bad or wrong keys) to every operation, so that each handler documents only its own.
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
                add("400", "Malformed request: bad JSON, query, path or header");
                add("429", "Rate limited; see Retry-After");
                if op.request_body.is_some() {
                    add("413", "Request body too large");
                    add("415", "The body is declared as something other than JSON");
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
        .merge(components::routes::money_router())
        .merge(executions::routes::money_router())
        .merge(tasks::routes::money_router())
        .merge(marketplace::jobs::routes::money_router())
        .merge(marketplace::subscriptions::routes::money_router())
        .merge(marketplace::bidding::routes::money_router())
        .merge(marketplace::proposals::routes::money_router())
        .merge(payments::routes::money_router())
        .merge(payments::billing_routes::money_router())
        .merge(skills::routes::money_router())
        .layer(middleware::from_fn_with_state(app.clone(), idempotency::idempotent));
    let (routes, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(agents::routes::router())
        .merge(wallet::routes::router())
        .merge(components::routes::router(app.config.components.max_component_bytes as usize))
        .merge(executions::routes::router())
        .merge(tasks::routes::router())
        .merge(marketplace::services::routes::router())
        .merge(marketplace::jobs::routes::router())
        .merge(marketplace::reviews::routes::router())
        .merge(marketplace::jobs::routes::admin_router())
        .merge(marketplace::subscriptions::routes::router())
        .merge(marketplace::bidding::routes::router())
        .merge(marketplace::bidding::routes::admin_router())
        .merge(marketplace::proposals::routes::router())
        .merge(notifications::routes::router())
        .merge(conversations::routes::router())
        .merge(feed::routes::router())
        .merge(verification::routes::router())
        .merge(skills::routes::router())
        .merge(gateway::routes::router())
        .merge(guardrails::routes::router())
        .merge(messaging::routes::router())
        .merge(messaging::peer_routes::router())
        .merge(messaging::daemon::router())
        .merge(messaging::federation_routes::router())
        .merge(a2a::routes::router())
        .merge(webhooks::routes::router())
        .merge(payments::routes::router())
        .merge(payments::billing_routes::router())
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
    let routes = match app.config.server.test_clock {
        true => routes.merge(admin::test_clock_router()),
        false => routes,
    };
    routes
        .route("/openapi.json", get(move || async move { Json(api.as_ref().clone()) }))
        .merge(payments::pages::router())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint")
        })
        .layer(middleware::from_fn_with_state(app.clone(), rate_limit::limit))
        .layer(middleware::from_fn_with_state(app.clone(), auth::identify))
        .layer(DefaultBodyLimit::max(app.config.server.max_body_bytes as usize))
        .layer(middleware::from_fn_with_state(app.clone(), request::deadline))
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn(request::sanitize_request_id))
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
    raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(app.config.server.listen).await?;
    let addr = listener.local_addr()?;
    app.public_url.set(&format!("http://{addr}"));
    tracing::info!(%addr, backend = ?app.db.backend, "listening");
    // A plain line on stdout that scripts and tests can wait for.
    println!("agora listening on http://{addr}");

    let (stop_tx, stop_rx) = watch::channel(false);
    let workers = start_workers(app.clone(), stop_rx.clone())?;
    let connections = accept_loop(app.clone(), listener, stop_rx);
    tokio::pin!(connections);
    tokio::select! {
        result = &mut connections => result?,
        () = shutdown_signal(&app.shutdown) => {
            let _ = stop_tx.send(true);
            app.stopping.send_replace(true);
            connections.await?;
        }
    }
    let _ = stop_tx.send(true);
    let _ = workers.await;
    app.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Accepts connections (at most `max_connections` open at once) until told to stop, then
/// waits up to the grace period for the open ones to finish their requests.
async fn accept_loop(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let server = &app.config.server;
    let permits = Arc::new(Semaphore::new(server.max_connections as usize));
    let header_timeout = Duration::from_millis(server.header_read_timeout_ms);
    let grace = Duration::from_secs(server.shutdown_grace_secs);
    let mut make_service = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit?,
            _ = stop.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a
                    // little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let Ok(service) = make_service.call(peer).await;
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over; dropping unfinished requests"),
    }
    Ok(())
}

/// The scheduler's worker with every domain's job kinds, and the webhook dispatcher; stopped
/// with the server, after the work they started.
fn start_workers(app: Arc<App>, stop: watch::Receiver<bool>) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut jobs = scheduler::Registry::default();
    keys::register(&mut jobs);
    executions::jobs::register(&mut jobs);
    tasks::jobs::register(&mut jobs);
    payments::jobs::register(&mut jobs, &app.config);
    marketplace::register(&mut jobs, &app.config);
    skills::register(&mut jobs, &app.config);
    gateway::register(&mut jobs, &app.config);
    messaging::dispatch::register(&mut jobs);
    messaging::federation::register(&mut jobs);
    a2a::push::register(&mut jobs);
    scheduler::register(&mut jobs);
    let owner = scheduler::host_id(&app.config.server.data_dir)?;
    let dispatcher = webhooks::dispatch::Dispatcher::new(app.clone(), owner.clone());
    let worker = scheduler::Scheduler::new(app.db.clone(), app.clone(), jobs, owner, WORKER_CONCURRENCY, WORKER_POLL);
    let (scheduler, deliveries) =
        (tokio::spawn(worker.run(stop.clone(), app.jobs_due.clone())), tokio::spawn(dispatcher.run(stop)));
    Ok(tokio::spawn(async move {
        let _ = tokio::join!(scheduler, deliveries);
    }))
}

/// Jobs one host runs at once, and how often an idle host looks for jobs other hosts added.
const WORKER_CONCURRENCY: usize = 32;
const WORKER_POLL: Duration = Duration::from_millis(100);

/// Lifts the soft limit on open files to the hard limit, so that the connection cap, not the
/// default soft limit (often 1024), bounds how many clients the server holds.
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::debug!("could not raise the open-file limit");
            }
        }
    }
}

async fn shutdown_signal(asked: &tokio::sync::Notify) {
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
        () = asked.notified() => {},
    }
}
