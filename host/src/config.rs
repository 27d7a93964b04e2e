//! Configuration: defaults, then environment variables (`AGORA_*`), then a TOML config file,
//! then command-line flags; each later source overrides the earlier ones.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to `sqlite://<data_dir>/agora.db`.
    pub database_url: String,
    pub db_max_connections: u32,
    pub operator_key: Option<String>,
    pub signup_credits: i64,
    pub platform_fee_bps: i64,
    pub max_deposit_cents: i64,
    pub max_body_bytes: usize,
    /// Requests per minute per API key (or per client address without a key).
    pub rate_limit_per_minute: u32,
    /// Accept `http://` (not only `https://`) for agent webhook and endpoint URLs.
    pub allow_insecure_urls: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    pub shutdown_grace_secs: u64,
    /// Accept component uploads without a publisher signature.
    pub allow_unsigned_components: bool,
    pub max_component_bytes: usize,
    /// Let components' outbound HTTP and endpoint agents reach loopback and private addresses.
    pub allow_private_http: bool,
    pub max_concurrent_executions: u32,
    pub exec_fuel: u64,
    pub exec_timeout_ms: u64,
    pub exec_memory_bytes: usize,
    pub exec_max_output_bytes: usize,
    /// Compute price: fuel units per cent (rounded down; budget minus price bounds the fuel).
    pub fuel_per_cent: u64,
    /// Bytes of key-value data each agent may keep.
    pub kv_quota_bytes: i64,
    /// How long a remote (endpoint_url) agent may take to answer.
    pub endpoint_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// One source of settings; every field optional so that sources can be stacked.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub db_max_connections: Option<u32>,
    pub operator_key: Option<String>,
    pub signup_credits: Option<i64>,
    pub platform_fee_bps: Option<i64>,
    pub max_deposit_cents: Option<i64>,
    pub max_body_bytes: Option<usize>,
    pub rate_limit_per_minute: Option<u32>,
    pub allow_insecure_urls: Option<bool>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub shutdown_grace_secs: Option<u64>,
    pub allow_unsigned_components: Option<bool>,
    pub max_component_bytes: Option<usize>,
    pub allow_private_http: Option<bool>,
    pub max_concurrent_executions: Option<u32>,
    pub exec_fuel: Option<u64>,
    pub exec_timeout_ms: Option<u64>,
    pub exec_memory_bytes: Option<usize>,
    pub exec_max_output_bytes: Option<usize>,
    pub fuel_per_cent: Option<u64>,
    pub kv_quota_bytes: Option<i64>,
    pub endpoint_timeout_ms: Option<u64>,
}

macro_rules! overlay {
    ($self:ident, $other:ident, $($field:ident),* $(,)?) => {
        $( if $other.$field.is_some() { $self.$field = $other.$field; } )*
    };
}

impl ConfigLayer {
    pub fn overlay(mut self, other: ConfigLayer) -> ConfigLayer {
        overlay!(
            self,
            other,
            listen,
            data_dir,
            database_url,
            db_max_connections,
            operator_key,
            signup_credits,
            platform_fee_bps,
            max_deposit_cents,
            max_body_bytes,
            rate_limit_per_minute,
            allow_insecure_urls,
            log_format,
            log_level,
            shutdown_grace_secs
        );
        self
    }

    /// Reads `AGORA_<FIELD>` for every field.
    pub fn from_env() -> anyhow::Result<ConfigLayer> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<ConfigLayer> {
        fn parse<T: std::str::FromStr>(name: &str, v: Option<String>) -> anyhow::Result<Option<T>>
        where
            T::Err: std::fmt::Display,
        {
            v.filter(|s| !s.is_empty())
                .map(|s| s.parse::<T>().map_err(|e| anyhow::anyhow!("{name}={s:?}: {e}")))
                .transpose()
        }
        let var = |n: &str| (format!("AGORA_{n}"), get(&format!("AGORA_{n}")));
        macro_rules! field {
            ($n:literal) => {{
                let (name, v) = var($n);
                parse(&name, v)?
            }};
        }
        let log_format = match var("LOG_FORMAT").1.as_deref() {
            None | Some("") => None,
            Some("json") => Some(LogFormat::Json),
            Some("text") => Some(LogFormat::Text),
            Some(other) => bail!("AGORA_LOG_FORMAT={other:?}: expected text or json"),
        };
        Ok(ConfigLayer {
            listen: field!("LISTEN"),
            data_dir: field!("DATA_DIR"),
            database_url: field!("DATABASE_URL"),
            db_max_connections: field!("DB_MAX_CONNECTIONS"),
            operator_key: field!("OPERATOR_KEY"),
            signup_credits: field!("SIGNUP_CREDITS"),
            platform_fee_bps: field!("PLATFORM_FEE_BPS"),
            max_deposit_cents: field!("MAX_DEPOSIT_CENTS"),
            max_body_bytes: field!("MAX_BODY_BYTES"),
            rate_limit_per_minute: field!("RATE_LIMIT_PER_MINUTE"),
            allow_insecure_urls: field!("ALLOW_INSECURE_URLS"),
            log_format,
            log_level: field!("LOG_LEVEL"),
            shutdown_grace_secs: field!("SHUTDOWN_GRACE_SECS"),
            allow_unsigned_components: field!("ALLOW_UNSIGNED_COMPONENTS"),
            max_component_bytes: field!("MAX_COMPONENT_BYTES"),
            allow_private_http: field!("ALLOW_PRIVATE_HTTP"),
            max_concurrent_executions: field!("MAX_CONCURRENT_EXECUTIONS"),
            exec_fuel: field!("EXEC_FUEL"),
            exec_timeout_ms: field!("EXEC_TIMEOUT_MS"),
            exec_memory_bytes: field!("EXEC_MEMORY_BYTES"),
            exec_max_output_bytes: field!("EXEC_MAX_OUTPUT_BYTES"),
            fuel_per_cent: field!("FUEL_PER_CENT"),
            kv_quota_bytes: field!("KV_QUOTA_BYTES"),
            endpoint_timeout_ms: field!("ENDPOINT_TIMEOUT_MS"),
        })
    }

    pub fn from_file(path: &Path) -> anyhow::Result<ConfigLayer> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
    }

    pub fn resolve(self) -> anyhow::Result<Config> {
        let listen_str = self.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen = listen_str.parse().with_context(|| format!("listen address {listen_str:?} is not host:port"))?;
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database_url =
            self.database_url.unwrap_or_else(|| format!("sqlite://{}", data_dir.join("agora.db").display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!("database_url must start with sqlite: or postgres://");
        }
        let platform_fee_bps = self.platform_fee_bps.unwrap_or(1000);
        if !(0..=10_000).contains(&platform_fee_bps) {
            bail!("platform_fee_bps must be between 0 and 10000, got {platform_fee_bps}");
        }
        let signup_credits = self.signup_credits.unwrap_or(100);
        if !(0..=1_000_000).contains(&signup_credits) {
            bail!("signup_credits must be between 0 and 1000000 cents, got {signup_credits}");
        }
        let max_deposit_cents = self.max_deposit_cents.unwrap_or(1_000_000);
        if max_deposit_cents <= 0 {
            bail!("max_deposit_cents must be positive");
        }
        let rate_limit_per_minute = self.rate_limit_per_minute.unwrap_or(600);
        if rate_limit_per_minute == 0 {
            bail!("rate_limit_per_minute must be positive");
        }
        Ok(Config {
            listen,
            data_dir,
            database_url,
            db_max_connections: self.db_max_connections.unwrap_or(16).max(1),
            operator_key: self.operator_key.filter(|k| !k.is_empty()),
            signup_credits,
            platform_fee_bps,
            max_deposit_cents,
            max_body_bytes: self.max_body_bytes.unwrap_or(1 << 20).max(1024),
            rate_limit_per_minute,
            allow_insecure_urls: self.allow_insecure_urls.unwrap_or(false),
            log_format: self.log_format.unwrap_or(LogFormat::Text),
            log_level: self.log_level.unwrap_or_else(|| "info".into()),
            shutdown_grace_secs: self.shutdown_grace_secs.unwrap_or(30),
            allow_unsigned_components: self.allow_unsigned_components.unwrap_or(false),
            max_component_bytes: self.max_component_bytes.unwrap_or(20 << 20).max(1024),
            allow_private_http: self.allow_private_http.unwrap_or(false),
            max_concurrent_executions: self.max_concurrent_executions.unwrap_or(64).clamp(1, 10_000),
            exec_fuel: self.exec_fuel.unwrap_or(2_000_000_000).max(1),
            exec_timeout_ms: self.exec_timeout_ms.unwrap_or(5_000).max(1),
            exec_memory_bytes: self.exec_memory_bytes.unwrap_or(64 << 20).max(1 << 20),
            exec_max_output_bytes: self.exec_max_output_bytes.unwrap_or(1 << 20).max(1024),
            fuel_per_cent: self.fuel_per_cent.unwrap_or(100_000_000).max(1),
            kv_quota_bytes: self.kv_quota_bytes.unwrap_or(1 << 20).max(0),
            endpoint_timeout_ms: self.endpoint_timeout_ms.unwrap_or(30_000).max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_complete() {
        let c = ConfigLayer::default().resolve().unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://./data/agora.db");
        assert_eq!(c.signup_credits, 100);
        assert_eq!(c.platform_fee_bps, 1000);
    }

    #[test]
    fn later_layers_override_earlier_ones() {
        let env = ConfigLayer::from_lookup(|k| match k {
            "AGORA_LISTEN" => Some("0.0.0.0:9000".into()),
            "AGORA_SIGNUP_CREDITS" => Some("250".into()),
            _ => None,
        })
        .unwrap();
        let file: ConfigLayer = toml::from_str("signup_credits = 300\nlog_format = \"json\"").unwrap();
        let c = env.overlay(file).resolve().unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.signup_credits, 300);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = |k: &'static str, v: &'static str| {
            ConfigLayer::from_lookup(move |name| (name == k).then(|| v.to_string())).and_then(|l| l.resolve()).is_err()
        };
        assert!(bad("AGORA_PLATFORM_FEE_BPS", "10001"));
        assert!(bad("AGORA_SIGNUP_CREDITS", "lots"));
        assert!(bad("AGORA_LISTEN", "nowhere"));
        assert!(bad("AGORA_DATABASE_URL", "mysql://x"));
        assert!(bad("AGORA_LOG_FORMAT", "xml"));
        assert!(toml::from_str::<ConfigLayer>("unknown_key = 1").is_err());
    }
}
