//! The settings, one serde struct per section with its defaults and its checks. Every
//! setting has one flat public name (its field name): `AGORA_<NAME>` in the environment,
//! `<name> = ...` in the config file, `--set <name>=...` on the command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::gateway::Gateway;
use super::guardrails::Guardrails;
use super::market::{Marketplace, Skills, Verification};
use super::messaging::Messaging;

/// A setting's value is out of range; the message names the setting.
pub type Check = Result<(), String>;

pub(super) fn within<T: PartialOrd + std::fmt::Display>(name: &str, value: T, min: T, max: T) -> Check {
    if value < min || value > max {
        return Err(format!("{name} must be between {min} and {max}, got {value}"));
    }
    Ok(())
}

const MIB: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Listening, connections, requests and logs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Server {
    /// Address to serve on; port 0 picks a free port.
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Largest request body; larger is 413.
    pub max_body_bytes: u64,
    /// How long in-flight requests may run after SIGTERM.
    pub shutdown_grace_secs: u64,
    /// Time a client has to send a request's headers, counted from when the connection opens
    /// or its previous response ends: it also closes idle keep-alive connections.
    pub header_read_timeout_ms: u64,
    /// Longest a request may take, body upload and handler included; then 408 `request_timeout`.
    pub request_timeout_ms: u64,
    /// Open connections at once; further clients wait in the listen backlog.
    pub max_connections: u64,
    /// How long an `Idempotency-Key` stays claimed by a request that stopped renewing it
    /// (its host died); then a retry may execute.
    pub idempotency_lease_ms: u64,
    pub log_format: LogFormat,
    /// Tracing filter; `RUST_LOG` overrides it.
    pub log_level: String,
    /// Serves `POST /api/admin/clock`, which moves the host's clock forward. For tests of what
    /// happens days later; never on a real host.
    pub test_clock: bool,
    /// Base64 of the 32-byte key that seals secrets kept in the database (BYOK provider keys,
    /// local endpoints' headers). Empty: one is generated into `<data_dir>/secrets.key` at first
    /// start. Every host of one database needs the same key; without it those secrets are lost.
    pub secrets_key: String,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            max_body_bytes: MIB,
            shutdown_grace_secs: 30,
            header_read_timeout_ms: 15_000,
            request_timeout_ms: 120_000,
            max_connections: 4_096,
            idempotency_lease_ms: 30_000,
            log_format: LogFormat::Text,
            log_level: "info".into(),
            test_clock: false,
            secrets_key: String::new(),
        }
    }
}

impl Server {
    fn check(&self) -> Check {
        within("max_body_bytes", self.max_body_bytes, 1024, 1 << 30)?;
        within("header_read_timeout_ms", self.header_read_timeout_ms, 100, 600_000)?;
        within("idempotency_lease_ms", self.idempotency_lease_ms, 100, 3_600_000)?;
        within("request_timeout_ms", self.request_timeout_ms, 1_000, 3_600_000)?;
        within("max_connections", self.max_connections, 16, 1_000_000)?;
        if self.log_level.trim().is_empty() {
            return Err("log_level must not be empty".into());
        }
        use base64::Engine as _;
        let key = base64::engine::general_purpose::STANDARD.decode(self.secrets_key.trim());
        if !self.secrets_key.is_empty() && !key.is_ok_and(|k| k.len() == 32) {
            return Err("secrets_key must be base64 of 32 bytes".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Database {
    /// `sqlite://FILE` or `postgres://...`; empty means `sqlite://<data_dir>/agora.db`.
    pub database_url: String,
    /// PostgreSQL pool size; SQLite uses one writer and up to 8 readers.
    pub db_max_connections: u32,
    /// PostgreSQL connections that commit batches of writes side by side (SQLite has one).
    pub db_commit_lanes: u32,
}

impl Default for Database {
    fn default() -> Self {
        Database { database_url: String::new(), db_max_connections: 16, db_commit_lanes: 1 }
    }
}

impl Database {
    fn check(&self) -> Check {
        let url = &self.database_url;
        let known = ["sqlite:", "postgres://", "postgresql://"].iter().any(|p| url.starts_with(p));
        if !url.is_empty() && !known {
            return Err("database_url must start with sqlite: or postgres://".into());
        }
        within("db_max_connections", self.db_max_connections, 1, 1_000)?;
        within("db_commit_lanes", self.db_commit_lanes, 1, 16)?;
        if self.db_commit_lanes > 1 && self.db_commit_lanes >= self.db_max_connections {
            return Err("db_commit_lanes must be less than db_max_connections (reads need connections too)".into());
        }
        Ok(())
    }
}

/// Keys, abuse limits and what URLs agents may register.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Access {
    /// Bootstrap operator key (`op_` + 48 letters and digits); empty: generated once.
    pub operator_key: String,
    /// Requests per minute per agent or operator, and per client address for requests
    /// without a valid key.
    pub rate_limit_per_minute: u32,
    /// Registrations per hour per client address.
    pub register_per_hour: u32,
    /// Accept `http://` webhook and endpoint URLs (tests, local development).
    pub allow_insecure_urls: bool,
    /// How long a verified key is trusted without looking it up again; 0 looks up every time.
    pub auth_cache_ms: u64,
    /// Direct messages one agent may send per minute.
    pub dm_per_minute: u32,
    /// Seconds an agent waits between two feed posts.
    pub feed_post_interval_secs: u32,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            operator_key: String::new(),
            rate_limit_per_minute: 600,
            register_per_hour: 30,
            allow_insecure_urls: false,
            auth_cache_ms: 5_000,
            dm_per_minute: 30,
            feed_post_interval_secs: 300,
        }
    }
}

impl Access {
    fn check(&self) -> Check {
        within("rate_limit_per_minute", self.rate_limit_per_minute, 1, 100_000_000)?;
        within("dm_per_minute", self.dm_per_minute, 1, 100_000)?;
        within("feed_post_interval_secs", self.feed_post_interval_secs, 0, 86_400)?;
        within("register_per_hour", self.register_per_hour, 1, 100_000_000)?;
        within("auth_cache_ms", self.auth_cache_ms, 0, 600_000)
    }
}

/// What an agent's own deposit is when no payment provider stands behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelfDeposit {
    /// Credited as non-withdrawable credit, like sign-up credits.
    Credit,
    /// Refused: only operators (after an off-platform payment) put money in.
    Refuse,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Money {
    /// Cents granted at registration: spendable, never withdrawable.
    pub signup_credits: i64,
    /// Platform fee in basis points (1000 = 10%), rounded down.
    pub platform_fee_bps: i64,
    /// What a referrer earns of its referred agents' earnings, in basis points (500 = 5%),
    /// paid out of the platform fee and never more than it.
    pub referral_bps: i64,
    /// Largest single deposit.
    pub max_deposit_cents: i64,
    pub self_deposit: SelfDeposit,
}

impl Default for Money {
    fn default() -> Self {
        Money {
            signup_credits: 100,
            platform_fee_bps: 1000,
            referral_bps: 500,
            max_deposit_cents: 1_000_000,
            self_deposit: SelfDeposit::Credit,
        }
    }
}

impl Money {
    pub fn rates(&self) -> crate::wallet::ledger::Rates {
        crate::wallet::ledger::Rates { fee_bps: self.platform_fee_bps, referral_bps: self.referral_bps }
    }

    fn check(&self) -> Check {
        within("signup_credits", self.signup_credits, 0, 1_000_000)?;
        within("platform_fee_bps", self.platform_fee_bps, 0, 10_000)?;
        within("referral_bps", self.referral_bps, 0, 10_000)?;
        within("max_deposit_cents", self.max_deposit_cents, 1, 1_000_000_000_000)
    }
}

/// Publishing and keeping components.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Components {
    pub allow_unsigned_components: bool,
    /// Largest component.
    pub max_component_bytes: u64,
    /// Components one agent may publish.
    pub agent_max_components: u64,
    /// Bytes of components one agent may publish, all versions together.
    pub agent_max_component_bytes: u64,
    /// Memory kept for compiled components; least recently used ones are dropped past it.
    pub compiled_cache_bytes: u64,
    /// Disk kept for compiled artifacts under `<data_dir>/components`.
    pub artifact_cache_bytes: u64,
}

impl Default for Components {
    fn default() -> Self {
        Components {
            allow_unsigned_components: false,
            max_component_bytes: 20 * MIB,
            agent_max_components: 50,
            agent_max_component_bytes: 200 * MIB,
            compiled_cache_bytes: 256 * MIB,
            artifact_cache_bytes: 2048 * MIB,
        }
    }
}

impl Components {
    fn check(&self) -> Check {
        within("max_component_bytes", self.max_component_bytes, 1024, 256 * MIB)?;
        within("agent_max_components", self.agent_max_components, 1, 1_000_000)?;
        within("agent_max_component_bytes", self.agent_max_component_bytes, 1024, 1 << 40)?;
        within("compiled_cache_bytes", self.compiled_cache_bytes, MIB, 1 << 40)?;
        within("artifact_cache_bytes", self.artifact_cache_bytes, MIB, 1 << 44)
    }
}

/// Running agents: limits, prices, records.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Execution {
    /// Let components' `http` and endpoint agents reach loopback and private addresses.
    pub allow_private_http: bool,
    /// Component executions at once on this host (the instance pool's size).
    pub max_concurrent_executions: u32,
    /// How long an execution waits for a free slot of the pool before answering `busy`.
    pub exec_queue_timeout_ms: u64,
    /// Executions one agent may have running at once, as buyer or as worker.
    pub agent_max_concurrent_executions: u32,
    pub exec_fuel: u64,
    pub exec_timeout_ms: u64,
    pub exec_memory_bytes: u64,
    /// Largest result of one run; also the cap on an endpoint agent's answer.
    pub exec_max_output_bytes: u64,
    /// Compute price: fuel per cent, rounded down.
    pub fuel_per_cent: u64,
    /// Key-value bytes per agent.
    pub kv_quota_bytes: u64,
    pub endpoint_timeout_ms: u64,
    /// Bytes of input and of result an execution record keeps.
    pub execution_record_bytes: u64,
    /// Days execution records are kept after they finish.
    pub execution_retention_days: u64,
}

impl Default for Execution {
    fn default() -> Self {
        Execution {
            allow_private_http: false,
            max_concurrent_executions: 64,
            exec_queue_timeout_ms: 10_000,
            agent_max_concurrent_executions: 8,
            exec_fuel: 2_000_000_000,
            exec_timeout_ms: 5_000,
            exec_memory_bytes: 64 * MIB,
            exec_max_output_bytes: MIB,
            fuel_per_cent: 100_000_000,
            kv_quota_bytes: MIB,
            endpoint_timeout_ms: 30_000,
            execution_record_bytes: 16 * 1024,
            execution_retention_days: 30,
        }
    }
}

impl Execution {
    fn check(&self) -> Check {
        within("max_concurrent_executions", self.max_concurrent_executions, 1, 10_000)?;
        within("exec_queue_timeout_ms", self.exec_queue_timeout_ms, 1, 600_000)?;
        within("agent_max_concurrent_executions", self.agent_max_concurrent_executions, 1, 10_000)?;
        within("exec_fuel", self.exec_fuel, 1, 1 << 50)?;
        within("exec_timeout_ms", self.exec_timeout_ms, 1, 3_600_000)?;
        within("exec_memory_bytes", self.exec_memory_bytes, MIB, 4096 * MIB)?;
        within("exec_max_output_bytes", self.exec_max_output_bytes, 1024, 256 * MIB)?;
        within("fuel_per_cent", self.fuel_per_cent, 1, 1 << 50)?;
        within("kv_quota_bytes", self.kv_quota_bytes, 0, 1 << 40)?;
        within("endpoint_timeout_ms", self.endpoint_timeout_ms, 1, 3_600_000)?;
        within("execution_record_bytes", self.execution_record_bytes, 256, 64 * MIB)?;
        within("execution_retention_days", self.execution_retention_days, 1, 36_500)
    }
}

/// Webhooks: how deliveries are sent and retried.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Webhooks {
    /// How long one delivery attempt may take, connecting and reading the answer.
    pub webhook_timeout_ms: u64,
    /// Pauses before each retry of a failed delivery, in milliseconds, comma-separated; one
    /// attempt more than pauses, then the delivery is failed.
    pub webhook_retry_schedule_ms: String,
    /// An endpoint whose every attempt has failed for this long is disabled until its URL is
    /// set again.
    pub webhook_disable_after_ms: u64,
    /// Where this platform is reached from outside, for links in payloads (`marketplace_url`);
    /// empty means `http://<listen>`.
    pub public_url: String,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            webhook_timeout_ms: 15_000,
            // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: Svix's schedule, 8 attempts in about 27 hours.
            webhook_retry_schedule_ms: "5000,300000,1800000,7200000,18000000,36000000,36000000".into(),
            // Five days, as Svix does.
            webhook_disable_after_ms: 5 * 24 * 3_600_000,
            public_url: String::new(),
        }
    }
}

impl Webhooks {
    /// The retry pauses.
    pub fn retry_schedule(&self) -> Result<Vec<std::time::Duration>, String> {
        let steps: Result<Vec<u64>, _> = self.webhook_retry_schedule_ms.split(',').map(|s| s.trim().parse()).collect();
        match steps {
            Ok(steps) if !steps.is_empty() && steps.len() <= 20 && steps.iter().all(|&ms| ms <= 7 * 24 * 3_600_000) => {
                Ok(steps.into_iter().map(std::time::Duration::from_millis).collect())
            }
            _ => Err("webhook_retry_schedule_ms must be 1 to 20 comma-separated milliseconds of at most a week".into()),
        }
    }

    fn check(&self) -> Check {
        within("webhook_timeout_ms", self.webhook_timeout_ms, 100, 120_000)?;
        within("webhook_disable_after_ms", self.webhook_disable_after_ms, 1_000, 90 * 24 * 3_600_000)?;
        self.retry_schedule()?;
        if !self.public_url.is_empty() && url::Url::parse(&self.public_url).is_err() {
            return Err("public_url must be empty or a URL".into());
        }
        Ok(())
    }
}

/// Which payment provider takes money in (and, for Stripe, pays out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentProviderKind {
    /// Built in: pages on this host with a "pay" button; no real money. For laptops and tests.
    Test,
    Stripe,
}

/// Payments in (checkout, saved cards, auto pay) and payouts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Payments {
    pub payment_provider: PaymentProviderKind,
    /// Stripe's API; a local fake's in tests.
    pub stripe_api_url: String,
    /// `sk_...`; required with `payment_provider = "stripe"`.
    pub stripe_secret_key: String,
    /// The `whsec_...` of the webhook endpoint `/api/payments/callback/stripe`; required with Stripe.
    pub stripe_webhook_secret: String,
    /// Smallest checkout or card top-up.
    pub min_payment_cents: i64,
    /// How often balances with auto pay on are checked against their threshold.
    pub autopay_check_ms: u64,
    /// The threshold auto pay tops up below, when the account did not choose one.
    pub autopay_threshold_cents: i64,
    /// A card charge still pending this long lost its answer (a crash, a timeout): the provider
    /// is asked again with the same idempotency key.
    pub charge_settle_after_ms: u64,
    /// The version of the billing terms accounts accept before their first runtime key.
    pub billing_terms_version: String,
    /// Where the billing terms are published; empty means this host's `/pay/terms`.
    pub billing_terms_url: String,
}

impl Default for Payments {
    fn default() -> Self {
        Payments {
            payment_provider: PaymentProviderKind::Test,
            stripe_api_url: "https://api.stripe.com".into(),
            stripe_secret_key: String::new(),
            stripe_webhook_secret: String::new(),
            min_payment_cents: 100,
            autopay_check_ms: 60_000,
            autopay_threshold_cents: 500,
            charge_settle_after_ms: 120_000,
            billing_terms_version: "2026-11".into(),
            billing_terms_url: String::new(),
        }
    }
}

impl Payments {
    fn check(&self) -> Check {
        within("min_payment_cents", self.min_payment_cents, 1, 1_000_000)?;
        within("autopay_check_ms", self.autopay_check_ms, 100, 86_400_000)?;
        within("autopay_threshold_cents", self.autopay_threshold_cents, 0, 100_000_000)?;
        within("charge_settle_after_ms", self.charge_settle_after_ms, 100, 86_400_000)?;
        if url::Url::parse(&self.stripe_api_url).is_err() {
            return Err("stripe_api_url must be a URL".into());
        }
        if !self.billing_terms_url.is_empty() && url::Url::parse(&self.billing_terms_url).is_err() {
            return Err("billing_terms_url must be empty or a URL".into());
        }
        if self.billing_terms_version.trim().is_empty() {
            return Err("billing_terms_version must not be empty".into());
        }
        Ok(())
    }

    /// Stripe's keys, when Stripe is the provider; the missing one named otherwise.
    pub fn stripe_keys(&self) -> Result<(&str, &str), String> {
        match (self.stripe_secret_key.as_str(), self.stripe_webhook_secret.as_str()) {
            ("", _) => Err("payment_provider is stripe: set stripe_secret_key".into()),
            (_, "") => Err("payment_provider is stripe: set stripe_webhook_secret".into()),
            keys => Ok(keys),
        }
    }
}

/// Every section, flattened: the public names are the fields' names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub server: Server,
    #[serde(flatten)]
    pub database: Database,
    #[serde(flatten)]
    pub access: Access,
    #[serde(flatten)]
    pub money: Money,
    #[serde(flatten)]
    pub components: Components,
    #[serde(flatten)]
    pub execution: Execution,
    #[serde(flatten)]
    pub webhooks: Webhooks,
    #[serde(flatten)]
    pub payments: Payments,
    #[serde(flatten)]
    pub marketplace: Marketplace,
    #[serde(flatten)]
    pub verification: Verification,
    #[serde(flatten)]
    pub skills: Skills,
    #[serde(flatten)]
    pub gateway: Gateway,
    #[serde(flatten)]
    pub guardrails: Guardrails,
    #[serde(flatten)]
    pub messaging: Messaging,
}

impl Config {
    pub(super) fn check(&self) -> Check {
        self.server.check()?;
        self.database.check()?;
        self.access.check()?;
        self.money.check()?;
        self.components.check()?;
        self.execution.check()?;
        self.webhooks.check()?;
        self.payments.check()?;
        self.marketplace.check()?;
        self.verification.check()?;
        self.skills.check()?;
        self.gateway.check()?;
        self.guardrails.check()?;
        self.messaging.check()
    }
}
