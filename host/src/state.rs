//! The application state every operation works with: configuration, the database, the Wasm
//! runtime and the shared pieces of the domains. Built once at start; `server.rs` composes
//! the HTTP side around it, and the CLI and the workers use it directly.

use std::sync::Arc;
use std::time::Duration;

use agora_runtime::{KvStore, Runtime, RuntimeConfig};

use crate::components::cache::ComponentCache;
use crate::config::Config;
use crate::db::Db;
use crate::executions::slots::Slots;
use crate::http::rate_limit::Limits;
use crate::identity::KeyCache;
use crate::kv::capability::DbKv;
use crate::wallet::ledger::Ledger;
use crate::wallet::payouts::{ManualPayouts, PayoutProvider};

pub struct App {
    pub config: Config,
    pub db: Db,
    pub ledger: Ledger,
    pub limits: Arc<Limits>,
    pub payouts: Arc<dyn PayoutProvider>,
    pub runtime: Arc<Runtime>,
    /// The `kv` capability's store.
    pub kv: Arc<dyn KvStore>,
    /// Executions running per agent, for the per-agent cap.
    pub slots: Slots,
    /// Recently verified API keys.
    pub keys: KeyCache,
    /// Component rows, for running them.
    pub components: ComponentCache,
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
        Ok(Arc::new(App {
            runtime: Arc::new(runtime),
            kv: Arc::new(DbKv { db: db.clone(), quota_bytes: config.execution.kv_quota_bytes as i64 }),
            ledger: Ledger { db: db.clone(), fee_bps: config.money.platform_fee_bps },
            limits: Limits::new(config.access.rate_limit_per_minute, config.access.register_per_hour),
            payouts: Arc::new(ManualPayouts),
            slots: Slots::new(config.execution.agent_max_concurrent_executions),
            keys: KeyCache::new(Duration::from_millis(config.access.auth_cache_ms), 100_000),
            components: ComponentCache::new(10_000),
            db,
            config,
        }))
    }
}
