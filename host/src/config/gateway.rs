//! The model gateway's settings. Upstreams come from `gateway_upstreams_file` (TOML, see
//! `docs/operations.md`), or, in the simple case, from `openai_base_url`: one OpenAI-compatible
//! upstream serving every mode, as OpenAI's own SDKs read `OPENAI_BASE_URL`.

use serde::{Deserialize, Serialize};

use super::sections::{within, Check};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Gateway {
    /// One OpenAI-compatible upstream (OpenAI, Groq, Ollama, vLLM, ...), e.g.
    /// `https://api.openai.com/v1`; empty: none (unless an upstreams file names some).
    pub openai_base_url: String,
    /// The key sent to `openai_base_url`.
    pub openai_api_key: String,
    /// The upstream models behind `fast`, `auto` and `max` for `openai_base_url`, and the one
    /// for embeddings: `mode=model` pairs.
    pub openai_models: String,
    /// A TOML file of upstreams, their models, prices and timeouts.
    pub gateway_upstreams_file: String,
    /// What the platform adds to an upstream's price, in basis points of it.
    pub gateway_markup_bps: u32,
    /// How long an exact-match cached answer is served; 0 turns the cache off.
    pub gateway_cache_ttl_ms: u64,
    /// The cache's bound, in bytes of cached answers.
    pub gateway_cache_max_bytes: u64,
    /// Requests per minute of a runtime key that sets none of its own.
    pub gateway_key_rate_limit_per_minute: u32,
    /// Upstream attempts per request, fallbacks included.
    pub gateway_max_attempts: u32,
    /// Failures in a row after which an upstream is skipped for `gateway_breaker_cooldown_ms`
    /// (unless it is the last candidate left).
    pub gateway_breaker_failures: u32,
    pub gateway_breaker_cooldown_ms: u64,
    /// `auto` escalates to the `max` candidates from this many prompt tokens (estimated).
    pub gateway_auto_escalate_tokens: u64,
    /// The completion tokens reserved for a request that sets no `max_tokens`.
    pub gateway_default_max_tokens: u32,
    /// A request still `reserved` this long after it started is released (its host died).
    pub gateway_reservation_timeout_ms: u64,
    /// What a request served with the account's own provider key (BYOK) is charged: basis
    /// points of what it would have cost managed.
    pub gateway_byok_fee_bps: u32,
    /// What a request served by the account's local endpoint is charged: basis points of the
    /// baseline (the first `max` model's price with the markup).
    pub gateway_local_fee_bps: u32,
    /// How often local endpoints are checked again (health and models).
    pub gateway_local_recheck_ms: u64,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            openai_base_url: String::new(),
            openai_api_key: String::new(),
            openai_models: "fast=gpt-4o-mini,auto=gpt-4o-mini,max=gpt-4o,embeddings=text-embedding-3-small".into(),
            gateway_upstreams_file: String::new(),
            gateway_markup_bps: 0,
            gateway_cache_ttl_ms: 300_000,
            gateway_cache_max_bytes: 64 << 20,
            gateway_key_rate_limit_per_minute: 60,
            gateway_max_attempts: 3,
            gateway_breaker_failures: 3,
            gateway_breaker_cooldown_ms: 5_000,
            gateway_auto_escalate_tokens: 8_000,
            gateway_default_max_tokens: 4_096,
            gateway_reservation_timeout_ms: 900_000,
            gateway_byok_fee_bps: 500,
            gateway_local_fee_bps: 500,
            gateway_local_recheck_ms: 60_000,
        }
    }
}

impl Gateway {
    pub(super) fn check(&self) -> Check {
        let url = &self.openai_base_url;
        if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
            return Err("openai_base_url must be an http(s) URL".into());
        }
        self.model_for("fast")?;
        within("gateway_markup_bps", self.gateway_markup_bps, 0, 100_000)?;
        within("gateway_cache_max_bytes", self.gateway_cache_max_bytes, 0, 1 << 34)?;
        within("gateway_key_rate_limit_per_minute", self.gateway_key_rate_limit_per_minute, 1, 10_000_000)?;
        within("gateway_max_attempts", self.gateway_max_attempts, 1, 10)?;
        within("gateway_breaker_failures", self.gateway_breaker_failures, 1, 1_000)?;
        within("gateway_breaker_cooldown_ms", self.gateway_breaker_cooldown_ms, 0, 3_600_000)?;
        within("gateway_default_max_tokens", self.gateway_default_max_tokens, 1, 1_000_000)?;
        within("gateway_byok_fee_bps", self.gateway_byok_fee_bps, 0, 10_000)?;
        within("gateway_local_fee_bps", self.gateway_local_fee_bps, 0, 10_000)?;
        within("gateway_local_recheck_ms", self.gateway_local_recheck_ms, 1_000, 86_400_000)?;
        within("gateway_reservation_timeout_ms", self.gateway_reservation_timeout_ms, 60_000, 86_400_000)
    }

    /// The model `openai_models` names for `use_` (`fast`, `auto`, `max`, `embeddings`).
    pub fn model_for(&self, use_: &str) -> Result<Option<&str>, String> {
        let mut found = None;
        for pair in self.openai_models.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, model)) = pair.split_once('=') else {
                return Err(format!("openai_models: {pair:?} is not mode=model"));
            };
            if !["fast", "auto", "max", "embeddings"].contains(&key.trim()) {
                return Err(format!("openai_models: unknown use {key:?} (fast, auto, max, embeddings)"));
            }
            if key.trim() == use_ {
                found = Some(model.trim());
            }
        }
        Ok(found)
    }
}
