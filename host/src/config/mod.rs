//! Configuration, layered generically: the defaults in the section structs, then the
//! environment (`AGORA_<NAME>`), then a TOML config file, then command-line flags (the named
//! ones and `--set name=value`); each later layer overrides the earlier ones. The list of
//! settings and their types is read off the defaults, so a setting added to a section is
//! known to every layer at once.

mod gateway;
mod guardrails;
mod market;
mod messaging;
mod sections;

use std::path::Path;

use anyhow::{bail, Context};
use serde::Deserialize;
use toml::{Table, Value};

pub use gateway::Gateway;
pub use guardrails::Guardrails;
pub use market::{Marketplace, Skills, Verification};
pub use messaging::Messaging;
pub use sections::{
    Access, Components, Config, Database, Execution, LogFormat, Money, PaymentProviderKind, Payments, SelfDeposit,
    Server,
};

impl Config {
    /// Resolves the layers. `env` looks up a variable by name; `flags` are `(name, value)`
    /// pairs in the order given.
    pub fn load(
        env: impl Fn(&str) -> Option<String>,
        file: Option<&Path>,
        flags: &[(String, String)],
    ) -> anyhow::Result<Config> {
        let defaults = defaults();
        let mut merged = defaults.clone();
        for (name, default) in &defaults {
            let var = format!("AGORA_{}", name.to_uppercase());
            if let Some(raw) = env(&var).filter(|v| !v.is_empty()) {
                merged.insert(name.clone(), parse_as(&var, &raw, default)?);
            }
        }
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
            let table: Table =
                toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))?;
            for (name, value) in table {
                let default = defaults.get(&name).with_context(|| format!("config file: unknown setting {name:?}"))?;
                if std::mem::discriminant(&value) != std::mem::discriminant(default) {
                    bail!("config file: {name} must be a {}, got {value}", default.type_str());
                }
                merged.insert(name, value);
            }
        }
        for (name, raw) in flags {
            let default = defaults.get(name).with_context(|| format!("--set: unknown setting {name:?}"))?;
            merged.insert(name.clone(), parse_as(&format!("--set {name}"), raw, default)?);
        }
        let mut config = Config::deserialize(Value::Table(merged)).context("invalid configuration")?;
        if config.database.database_url.is_empty() {
            config.database.database_url = format!("sqlite://{}", config.server.data_dir.join("agora.db").display());
        }
        config.check().map_err(anyhow::Error::msg)?;
        Ok(config)
    }

    /// Defaults and the process environment only.
    pub fn from_env() -> anyhow::Result<Config> {
        Config::load(|name| std::env::var(name).ok(), None, &[])
    }

    /// Every setting's public name.
    pub fn names() -> Vec<String> {
        defaults().keys().cloned().collect()
    }
}

fn defaults() -> Table {
    match Value::try_from(Config::default()) {
        Ok(Value::Table(table)) => table,
        other => unreachable!("the defaults serialize to a table, not {other:?}"),
    }
}

/// Reads text (from the environment or a flag) as a value of the default's type.
fn parse_as(source: &str, raw: &str, default: &Value) -> anyhow::Result<Value> {
    let bad = |what: &str| anyhow::anyhow!("{source}={raw:?}: expected {what}");
    Ok(match default {
        Value::Integer(_) => Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?),
        Value::Boolean(_) => Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad("true or false")),
        }),
        Value::Float(_) => Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?),
        _ => Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(env: &[(&str, &str)], file: Option<&str>, flags: &[(&str, &str)]) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let flags: Vec<(String, String)> = flags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let dir = std::env::temp_dir().join(format!("agora-config-{}", crate::db::new_id()));
        let path = file.map(|text| {
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("agora.toml");
            std::fs::write(&path, text).unwrap();
            path
        });
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let config = Config::load(lookup, path.as_deref(), &flags);
        let _ = std::fs::remove_dir_all(&dir);
        config
    }

    /// The resolved value of a setting, as its layered form.
    fn resolved(config: &Config, name: &str) -> Value {
        defaults_of(config).remove(name).unwrap_or_else(|| panic!("{name} resolved"))
    }

    fn defaults_of(config: &Config) -> Table {
        match Value::try_from(config.clone()).unwrap() {
            Value::Table(t) => t,
            _ => unreachable!(),
        }
    }

    /// A valid value of `name` other than its default, as text and as its typed form.
    fn sample(name: &str, default: &Value) -> (String, Value) {
        let text = match (name, default) {
            ("listen", _) => "0.0.0.0:9999".to_string(),
            ("data_dir", _) => "/var/lib/agora-test".to_string(),
            ("database_url", _) => "postgres://agora@db.example:5432/agora".to_string(),
            ("operator_key", _) => format!("op_{}", "a".repeat(48)),
            ("log_format", _) => "json".to_string(),
            ("log_level", _) => "debug".to_string(),
            ("self_deposit", _) => "refuse".to_string(),
            ("webhook_retry_schedule_ms", _) => "100,200".to_string(),
            ("public_url", _) => "https://agora.example".to_string(),
            ("payment_provider", _) => "stripe".to_string(),
            ("stripe_api_url", _) => "http://127.0.0.1:12111".to_string(),
            ("stripe_secret_key", _) => "sk_test_sample".to_string(),
            ("stripe_webhook_secret", _) => "whsec_sample".to_string(),
            ("billing_terms_version", _) => "2027-01".to_string(),
            ("billing_terms_url", _) => "https://agora.example/terms".to_string(),
            ("verify_github_url", _) => "http://127.0.0.1:9/github/{handle}".to_string(),
            ("verify_bluesky_url", _) => "http://127.0.0.1:9/bluesky/{handle}".to_string(),
            ("verify_twitter_url", _) => "http://127.0.0.1:9/twitter/{handle}".to_string(),
            ("verify_moltbook_url", _) => "http://127.0.0.1:9/moltbook/{handle}".to_string(),
            ("openai_base_url", _) => "http://127.0.0.1:11434/v1".to_string(),
            ("openai_api_key", _) => "sk-sample".to_string(),
            ("openai_models", _) => "fast=llama3.2,auto=llama3.2,max=llama3.3".to_string(),
            ("gateway_upstreams_file", _) => "/etc/agora/upstreams.toml".to_string(),
            ("guardrails_default_decision", _) => "deny".to_string(),
            ("a2a_host_agent", _) => "front-desk".to_string(),
            ("messaging_dns_resolver", _) => "127.0.0.1:5353".to_string(),
            ("messaging_host", _) => "agents.example:8443".to_string(),
            ("messaging_federation_scheme", _) => "http".to_string(),
            ("license_signing_key" | "secrets_key", _) => "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_string(),
            (_, Value::Integer(i)) => (i + 1).to_string(),
            (_, Value::Boolean(b)) => (!b).to_string(),
            (name, other) => panic!("no sample for {name} = {other}"),
        };
        let typed = parse_as(name, &text, default).unwrap();
        (text, typed)
    }

    #[test]
    fn defaults_are_complete_and_valid() {
        let c = load(&[], None, &[]).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database.database_url, "sqlite://./data/agora.db");
        assert_eq!(c.money.signup_credits, 100);
        assert_eq!(c.money.platform_fee_bps, 1000);
        assert_eq!(c.access.register_per_hour, 30);
        assert_eq!(c.components.agent_max_components, 50);
        assert_eq!(c.components.agent_max_component_bytes, 200 << 20);
        assert!(Config::names().len() >= 36, "{:?}", Config::names());
    }

    #[test]
    fn every_setting_is_read_from_every_layer() {
        for (name, default) in defaults() {
            let (text, typed) = sample(&name, &default);
            let env_name = format!("AGORA_{}", name.to_uppercase());
            let from_env = load(&[(&env_name, &text)], None, &[]).unwrap_or_else(|e| panic!("{env_name}: {e:#}"));
            assert_eq!(resolved(&from_env, &name), typed, "{name} from the environment");

            let line = format!("{name} = {typed}");
            let from_file = load(&[], Some(&line), &[]).unwrap_or_else(|e| panic!("{line}: {e:#}"));
            assert_eq!(resolved(&from_file, &name), typed, "{name} from the file");

            let from_flag = load(&[], None, &[(&name, &text)]).unwrap_or_else(|e| panic!("--set {name}: {e:#}"));
            assert_eq!(resolved(&from_flag, &name), typed, "{name} from --set");
        }
    }

    #[test]
    fn later_layers_override_earlier_ones() {
        let env = [("AGORA_LISTEN", "0.0.0.0:9000"), ("AGORA_SIGNUP_CREDITS", "250"), ("AGORA_EXEC_FUEL", "7")];
        let c = load(&env, Some("signup_credits = 300\nlog_format = \"json\"\nexec_fuel = 8"), &[("exec_fuel", "9")])
            .unwrap();
        assert_eq!(c.server.listen.port(), 9000);
        assert_eq!(c.money.signup_credits, 300);
        assert_eq!(c.server.log_format, LogFormat::Json);
        assert_eq!(c.execution.exec_fuel, 9);
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        let refused = |env: &[(&str, &str)], file: Option<&str>, flags: &[(&str, &str)], word: &str| {
            let error = format!("{:#}", load(env, file, flags).unwrap_err());
            assert!(error.contains(word), "{error} should name {word}");
        };
        refused(&[("AGORA_PLATFORM_FEE_BPS", "10001")], None, &[], "platform_fee_bps");
        refused(&[("AGORA_SIGNUP_CREDITS", "lots")], None, &[], "AGORA_SIGNUP_CREDITS");
        refused(&[("AGORA_LISTEN", "nowhere")], None, &[], "invalid configuration");
        refused(&[("AGORA_DATABASE_URL", "mysql://x")], None, &[], "database_url");
        refused(&[("AGORA_LOG_FORMAT", "xml")], None, &[], "invalid configuration");
        refused(&[("AGORA_ALLOW_PRIVATE_HTTP", "maybe")], None, &[], "AGORA_ALLOW_PRIVATE_HTTP");
        refused(&[("AGORA_EXEC_MEMORY_BYTES", "5")], None, &[], "exec_memory_bytes");
        refused(&[("AGORA_OPENAI_MODELS", "fast:gpt")], None, &[], "openai_models");
        refused(&[("AGORA_OPENAI_BASE_URL", "ftp://x")], None, &[], "openai_base_url");
        refused(&[], Some("unknown_key = 1"), &[], "unknown_key");
        refused(&[], Some("exec_fuel = \"lots\""), &[], "exec_fuel");
        refused(&[], None, &[("nope", "1")], "nope");
    }
}
