//! The application state every operation works with: configuration, the database, the Wasm
//! runtime and the shared pieces of the domains. Built once at start; `server.rs` composes
//! the HTTP side around it, and the CLI and the workers use it directly.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use agora_runtime::net::PinnedClients;
use agora_runtime::{KvStore, Runtime, RuntimeConfig};

use crate::components::cache::ComponentCache;
use crate::config::{Config, PaymentProviderKind};
use crate::db::Db;
use crate::executions::slots::Slots;
use crate::gateway::ModelGateway;
use crate::http::rate_limit::Limits;
use crate::identity::KeyCache;
use crate::kv::capability::DbKv;
use crate::payments::provider::PaymentProvider;
use crate::payments::stripe::Stripe;
use crate::payments::test_provider::TestPayments;
use crate::skills::Licensing;
use crate::wallet::ledger::Ledger;
use crate::wallet::payouts::{ManualPayouts, PayoutProvider};

pub struct App {
    pub config: Config,
    pub db: Db,
    pub ledger: Ledger,
    pub limits: Arc<Limits>,
    pub payouts: Arc<dyn PayoutProvider>,
    /// Where money comes in from.
    pub payments: Arc<dyn PaymentProvider>,
    /// The built-in test provider, when it is the one in use (its pages are served then).
    pub test_payments: Option<Arc<TestPayments>>,
    pub public_url: PublicUrl,
    pub runtime: Arc<Runtime>,
    /// The `kv` capability's store.
    pub kv: Arc<dyn KvStore>,
    /// Executions running per agent, for the per-agent cap.
    pub slots: Slots,
    /// Recently verified API keys.
    pub keys: KeyCache<crate::identity::Principal>,
    /// Component rows, for running them.
    pub components: ComponentCache,
    /// HTTP clients for URLs agents gave (endpoints, webhooks), pinned to checked addresses.
    pub outbound: PinnedClients,
    /// Licence tokens, verified keys and the verify rate limit.
    pub licensing: Licensing,
    /// The model gateway: upstreams, their client and breakers, the response cache.
    pub gateway: ModelGateway,
    /// Seals the secrets kept in the database (`secrets_key`).
    pub sealer: crate::secrets::SecretBox,
    /// Accounts' guardrail policies, kept a second.
    pub policies: crate::guardrails::cache::PolicyCache,
    /// Asks the server to stop, as SIGTERM does (`POST /v1/daemon/shutdown`).
    pub shutdown: Arc<tokio::sync::Notify>,
    /// Turns true when the server stops: endless responses (event streams) end then.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Wakes this host's scheduler when a job due now was added (after its commit).
    pub jobs_due: Arc<tokio::sync::Notify>,
    /// Cards of agents on other hosts, for verifying their messages.
    pub cards: crate::messaging::federation::Cards,
    /// Wakes the message streams of agents this host delivers to.
    pub inboxes: crate::wakers::Wakers,
    /// Wakes the waiters on A2A tasks this host changed (by task id).
    pub a2a_tasks: crate::wakers::Wakers,
    /// This state itself, for work that outlives a borrow of it (a component's nested calls).
    me: Weak<App>,
}

impl App {
    /// Connects to the database, applies pending migrations and builds the runtime.
    pub async fn open(config: Config) -> anyhow::Result<Arc<App>> {
        let database = &config.database;
        let db = Db::connect_with_lanes(&database.database_url, database.db_max_connections, database.db_commit_lanes)
            .await?;
        db.migrate().await?;
        crate::agents::store::backfill_name_keys(&db).await?;
        let c = &config.components;
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: config.server.data_dir.join("components"),
            max_concurrent: config.execution.max_concurrent_executions,
            queue_timeout: Duration::from_millis(config.execution.exec_queue_timeout_ms),
            max_memory_bytes: config.execution.exec_memory_bytes as usize,
            max_component_bytes: c.max_component_bytes as usize,
            prepared_cache_bytes: c.compiled_cache_bytes as usize,
            artifact_cache_bytes: c.artifact_cache_bytes,
        })?;
        let public_url = PublicUrl::default();
        if !config.webhooks.public_url.is_empty() {
            public_url.set(&config.webhooks.public_url);
        }
        let (payments, payouts, test_payments) = providers(&config, &public_url)?;
        let licensing = Licensing::new(&config)?;
        let gateway = ModelGateway::new(&config)?;
        let server = &config.server;
        let sealer = crate::secrets::SecretBox::new(&crate::secrets::key_32(
            &server.secrets_key,
            "secrets_key",
            &server.data_dir,
            "secrets.key",
        )?);
        Ok(Arc::new_cyclic(|me| App {
            runtime: Arc::new(runtime),
            kv: Arc::new(DbKv { db: db.clone(), quota_bytes: config.execution.kv_quota_bytes as i64 }),
            ledger: Ledger { db: db.clone(), rates: config.money.rates() },
            limits: Limits::new(config.access.rate_limit_per_minute, config.access.register_per_hour),
            payouts,
            payments,
            test_payments,
            public_url,
            slots: Slots::new(config.execution.agent_max_concurrent_executions),
            keys: KeyCache::new(Duration::from_millis(config.access.auth_cache_ms), 100_000),
            components: ComponentCache::new(10_000),
            outbound: PinnedClients::new(config.execution.allow_private_http, OUTBOUND_CLIENT_TTL),
            licensing,
            gateway,
            sealer,
            policies: Default::default(),
            inboxes: Default::default(),
            a2a_tasks: Default::default(),
            cards: Default::default(),
            jobs_due: Default::default(),
            shutdown: Default::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            me: me.clone(),
            db,
            config,
        }))
    }

    /// A shared handle on this state; none only while it is being dropped.
    pub fn arc(&self) -> Option<Arc<App>> {
        self.me.upgrade()
    }
}

/// How long an outbound client (and the address its host name resolved to) is reused.
const OUTBOUND_CLIENT_TTL: Duration = Duration::from_secs(60);

type Providers = (Arc<dyn PaymentProvider>, Arc<dyn PayoutProvider>, Option<Arc<TestPayments>>);

/// The configured payment provider, and the payout provider that goes with it: Stripe pays out
/// to connected accounts; otherwise payouts wait for an operator.
fn providers(config: &Config, public_url: &PublicUrl) -> anyhow::Result<Providers> {
    let p = &config.payments;
    Ok(match p.payment_provider {
        PaymentProviderKind::Test => {
            let test = Arc::new(TestPayments::new(public_url.clone()));
            (test.clone(), Arc::new(ManualPayouts), Some(test))
        }
        PaymentProviderKind::Stripe => {
            let (secret_key, webhook_secret) = p.stripe_keys().map_err(anyhow::Error::msg)?;
            let stripe = Arc::new(Stripe::new(&p.stripe_api_url, secret_key, webhook_secret)?);
            (stripe.clone(), stripe, None)
        }
    })
}

/// Where this host is reached from outside, for links it hands out: `public_url` when the
/// operator set it, else the address it listens on, known once it does.
#[derive(Clone, Default)]
pub struct PublicUrl(Arc<OnceLock<String>>);

impl PublicUrl {
    /// Sets it unless it is set.
    pub fn set(&self, url: &str) {
        let _ = self.0.set(url.trim_end_matches('/').to_string());
    }

    pub fn get(&self) -> &str {
        self.0.get().map(String::as_str).unwrap_or("http://localhost")
    }
}
