//! The upstreams the operator configured, their models and prices, and the price catalogue
//! that ships with the host.
//!
//! An upstreams file is TOML:
//!
//! ```toml
//! [[upstream]]
//! name = "openai"
//! kind = "openai"              # or "anthropic"
//! provider = "openai"          # accounts' BYOK keys for this provider may call it
//!                              # (openai, anthropic, google, groq; default: the name if it is one)
//! base_url = "https://api.openai.com/v1"
//! api_key_env = "OPENAI_API_KEY"   # or api_key = "..."
//! timeout_ms = 60000           # a whole answer
//! first_byte_timeout_ms = 20000  # a stream's first chunk
//! [[upstream.model]]
//! name = "gpt-4o-mini"
//! modes = ["fast", "auto"]     # candidate lists it joins, in file order
//! input_per_1m = 0.15          # USD; taken from the catalogue when left out
//! output_per_1m = 0.60
//! capabilities = ["chat", "tools", "vision"]
//! context_window = 128000
//! [[upstream.model]]
//! name = "dall-e-3"
//! capabilities = ["images"]    # media: images, speech, transcription, video
//! unit_price = 0.04            # USD per unit: an image, 1,000 characters spoken, a started
//!                              # megabyte transcribed, a second of video
//! ```

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use super::model::{Mode, Price};
use crate::config::Gateway;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// OpenAI's chat completions and embeddings (OpenAI, Groq, Google's compatible endpoint,
    /// Ollama, vLLM, LocalAI).
    Openai,
    /// Anthropic's Messages API, translated both ways.
    Anthropic,
}

#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    pub kind: Kind,
    pub base_url: String,
    pub api_key: String,
    pub timeout: Duration,
    pub first_byte_timeout: Duration,
    /// The provider whose BYOK keys this upstream accepts.
    pub provider: Option<String>,
    /// Headers sent with every call (a local endpoint's own).
    pub headers: Vec<(String, String)>,
    pub models: Vec<UpstreamModel>,
}

/// The providers accounts can bring keys for.
pub const BYOK_PROVIDERS: [&str; 4] = ["openai", "anthropic", "google", "groq"];

#[derive(Debug, Clone)]
pub struct UpstreamModel {
    pub name: String,
    pub modes: Vec<Mode>,
    pub price: Price,
    pub capabilities: Vec<String>,
    pub context_window: i64,
    /// Media models: micro-USD per unit (an image, 1,000 characters, a megabyte, a second).
    pub unit_price: i64,
}

impl UpstreamModel {
    pub fn can(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// Every configured upstream, in the order routing prefers them.
#[derive(Debug, Clone, Default)]
pub struct Upstreams {
    pub list: Vec<Arc<Upstream>>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    upstream: Vec<FileUpstream>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUpstream {
    name: String,
    kind: Kind,
    base_url: String,
    provider: Option<String>,
    #[serde(default)]
    api_key: String,
    #[serde(default)]
    api_key_env: String,
    #[serde(default = "default_timeout_ms")]
    timeout_ms: u64,
    #[serde(default = "default_first_byte_ms")]
    first_byte_timeout_ms: u64,
    #[serde(default)]
    model: Vec<FileModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileModel {
    name: String,
    #[serde(default)]
    modes: Vec<String>,
    input_per_1m: Option<f64>,
    output_per_1m: Option<f64>,
    #[serde(default)]
    capabilities: Vec<String>,
    context_window: Option<i64>,
    unit_price: Option<f64>,
}

fn default_timeout_ms() -> u64 {
    120_000
}

fn default_first_byte_ms() -> u64 {
    30_000
}

impl Upstreams {
    /// From the upstreams file and `openai_base_url`; `env` reads `api_key_env` variables.
    pub fn load(config: &Gateway, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Upstreams> {
        let mut list = Vec::new();
        if !config.gateway_upstreams_file.is_empty() {
            let path = &config.gateway_upstreams_file;
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading gateway_upstreams_file {path}"))?;
            let file: File = toml::from_str(&text).with_context(|| format!("parsing gateway_upstreams_file {path}"))?;
            for u in file.upstream {
                list.push(Arc::new(from_file(u, &env)?));
            }
        }
        if !config.openai_base_url.is_empty() {
            list.push(Arc::new(simple(config).map_err(anyhow::Error::msg)?));
        }
        let mut names = std::collections::HashSet::new();
        for u in &list {
            if !names.insert(u.name.as_str()) {
                bail!("gateway upstream {:?} is configured twice", u.name);
            }
        }
        Ok(Upstreams { list })
    }
}

fn from_file(u: FileUpstream, env: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Upstream> {
    if !(u.base_url.starts_with("https://") || u.base_url.starts_with("http://")) {
        bail!("upstream {}: base_url must be an http(s) URL", u.name);
    }
    let api_key = match (u.api_key.is_empty(), u.api_key_env.is_empty()) {
        (false, _) => u.api_key,
        (true, false) => env(&u.api_key_env).unwrap_or_default(),
        (true, true) => String::new(),
    };
    let provider = match u.provider {
        Some(p) if BYOK_PROVIDERS.contains(&p.as_str()) => Some(p),
        Some(p) => bail!("upstream {}: provider {p:?} is not one of {}", u.name, BYOK_PROVIDERS.join(", ")),
        None => BYOK_PROVIDERS.contains(&u.name.as_str()).then(|| u.name.clone()),
    };
    let mut models = Vec::new();
    for m in u.model {
        let modes = m
            .modes
            .iter()
            .map(|mode| mode.parse::<Mode>().map_err(|_| anyhow::anyhow!("upstream {}: unknown mode {mode:?}", u.name)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let listed = catalogue().iter().find(|e| e.id == m.name);
        let price = match (m.input_per_1m, m.output_per_1m, &listed) {
            (Some(i), Some(o), _) => Price::from_usd(i, o),
            (None, None, Some(e)) => Price::from_usd(e.input_per_1m, e.output_per_1m),
            (None, None, None) => Price::default(),
            _ => bail!("upstream {}: model {} needs both input_per_1m and output_per_1m", u.name, m.name),
        };
        let capabilities = match (m.capabilities.is_empty(), &listed) {
            (true, Some(e)) => e.capabilities.clone(),
            (true, None) => vec!["chat".to_string()],
            (false, _) => m.capabilities,
        };
        let context_window = m.context_window.or(listed.as_ref().map(|e| e.context_window)).unwrap_or(128_000);
        let unit_price = usd_to_micros(m.unit_price.or(listed.as_ref().and_then(|e| e.unit_price)).unwrap_or(0.0));
        models.push(UpstreamModel { name: m.name, modes, price, capabilities, context_window, unit_price });
    }
    Ok(Upstream {
        name: u.name,
        kind: u.kind,
        base_url: u.base_url.trim_end_matches('/').to_string(),
        api_key,
        timeout: Duration::from_millis(u.timeout_ms),
        first_byte_timeout: Duration::from_millis(u.first_byte_timeout_ms),
        provider,
        headers: Vec::new(),
        models,
    })
}

/// The one upstream `openai_base_url` configures: its `openai_models` serve the modes and
/// embeddings.
fn simple(config: &Gateway) -> Result<Upstream, String> {
    let mut models: Vec<UpstreamModel> = Vec::new();
    for (use_, mode) in
        [("fast", Some(Mode::Fast)), ("auto", Some(Mode::Auto)), ("max", Some(Mode::Max)), ("embeddings", None)]
    {
        let Some(name) = config.model_for(use_)? else { continue };
        if let Some(existing) = models.iter_mut().find(|m| m.name == name) {
            existing.modes.extend(mode);
            continue;
        }
        let listed = catalogue().iter().find(|e| e.id == name);
        let capabilities = match (&listed, mode) {
            (Some(e), _) => e.capabilities.clone(),
            (None, None) => vec!["embeddings".to_string()],
            (None, Some(_)) => vec!["chat".into(), "tools".into(), "vision".into()],
        };
        models.push(UpstreamModel {
            name: name.to_string(),
            modes: mode.into_iter().collect(),
            price: listed.as_ref().map(|e| Price::from_usd(e.input_per_1m, e.output_per_1m)).unwrap_or_default(),
            capabilities,
            context_window: listed.map_or(128_000, |e| e.context_window),
            unit_price: usd_to_micros(listed.and_then(|e| e.unit_price).unwrap_or(0.0)),
        });
    }
    Ok(Upstream {
        name: "openai".into(),
        kind: Kind::Openai,
        base_url: config.openai_base_url.trim_end_matches('/').to_string(),
        api_key: config.openai_api_key.clone(),
        timeout: Duration::from_millis(default_timeout_ms()),
        first_byte_timeout: Duration::from_millis(default_first_byte_ms()),
        // OpenAI's own API takes accounts' OpenAI keys; another compatible server does not.
        provider: url::Url::parse(&config.openai_base_url)
            .ok()
            .filter(|u| u.host_str() == Some("api.openai.com"))
            .map(|_| "openai".to_string()),
        headers: Vec::new(),
        models,
    })
}

/// One model of the shipped price catalogue (`GET /v1/pricing`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogueEntry {
    pub id: String,
    pub name: String,
    pub provider: String,
    /// USD per million prompt tokens.
    pub input_per_1m: f64,
    /// USD per million completion tokens.
    pub output_per_1m: f64,
    pub capabilities: Vec<String>,
    pub context_window: i64,
    /// Media models: what `unit_price` is per (`image`, `1k_characters`, `megabyte`, `second`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Media models: USD per unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<f64>,
}

fn usd_to_micros(usd: f64) -> i64 {
    (usd.max(0.0) * 1e6).round() as i64
}

/// The catalogue shipped with this version (`catalogue.json`): reference prices, used for
/// configured models that give none.
pub fn catalogue() -> &'static [CatalogueEntry] {
    static CATALOGUE: std::sync::OnceLock<Vec<CatalogueEntry>> = std::sync::OnceLock::new();
    CATALOGUE
        .get_or_init(|| serde_json::from_str(include_str!("catalogue.json")).expect("the shipped catalogue parses"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simple_upstream_serves_every_mode_at_catalogue_prices() {
        let config = Gateway { openai_base_url: "http://127.0.0.1:9/v1/".into(), ..Gateway::default() };
        let u = Upstreams::load(&config, |_| None).unwrap();
        assert_eq!(u.list.len(), 1);
        let up = &u.list[0];
        assert_eq!(up.base_url, "http://127.0.0.1:9/v1");
        let mini = up.models.iter().find(|m| m.name == "gpt-4o-mini").unwrap();
        assert_eq!(mini.modes, vec![Mode::Fast, Mode::Auto]);
        assert_eq!(mini.price, Price { input: 150_000, output: 600_000 });
        assert!(up.models.iter().any(|m| m.name == "text-embedding-3-small" && m.can("embeddings")));
    }

    #[test]
    fn an_upstreams_file_is_read_with_its_keys_from_the_environment() {
        let dir = std::env::temp_dir().join(format!("agora-upstreams-{}", crate::db::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("u.toml");
        std::fs::write(
            &path,
            "[[upstream]]\nname = \"a\"\nkind = \"anthropic\"\nbase_url = \"http://x/v1\"\napi_key_env = \"K\"\n\
             [[upstream.model]]\nname = \"claude-sonnet-4-0\"\nmodes = [\"max\"]\n\
             [[upstream.model]]\nname = \"local\"\nmodes = [\"fast\"]\ninput_per_1m = 1\noutput_per_1m = 2\n",
        )
        .unwrap();
        let config = Gateway { gateway_upstreams_file: path.display().to_string(), ..Gateway::default() };
        let u = Upstreams::load(&config, |name| (name == "K").then(|| "secret".to_string())).unwrap();
        let a = &u.list[0];
        assert_eq!((a.kind, a.api_key.as_str()), (Kind::Anthropic, "secret"));
        assert_eq!(a.models[0].price, Price { input: 3_000_000, output: 15_000_000 });
        assert_eq!(a.models[1].price, Price { input: 1_000_000, output: 2_000_000 });
        std::fs::write(&path, "[[upstream]]\nname = \"a\"\nkind = \"grpc\"\nbase_url = \"http://x\"\n").unwrap();
        assert!(Upstreams::load(&config, |_| None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
