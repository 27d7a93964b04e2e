//! Embeddings: the named model or the first that embeds, falling back like chat; paid per
//! input token. The upstream is always asked for floats; `encoding_format: base64` (what the
//! official Python client asks for by default) is encoded here, little-endian `f32`.

use base64::Engine;
use serde_json::{json, Value};

use super::chat::{charge, try_in_order, upstream_error};
use super::errors::GatewayError;
use super::metering::{self, Payer, Served};
use super::model::{with_markup, Mode, RequestType, Tokens};
use super::own;
use super::providers;
use super::routing;
use crate::state::App;

/// The model named when the request names none.
pub const DEFAULT_MODEL: &str = "text-embedding-3-small";
const MAX_INPUTS: usize = 2_048;

pub async fn embed(app: &App, payer: &Payer, body: &Value, metadata: &Value) -> Result<Value, GatewayError> {
    let input = body.get("input").ok_or_else(|| GatewayError::Invalid("input is required".into()))?;
    let bytes: i64 = match input {
        Value::String(s) if !s.is_empty() => s.len() as i64,
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_INPUTS => {
            let mut n = 0;
            for item in items {
                n += item
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        GatewayError::Invalid("input must be a non-empty string or an array of them".into())
                    })?
                    .len() as i64;
            }
            n
        }
        _ => {
            return Err(GatewayError::Invalid(format!("input must be a non-empty string or 1 to {MAX_INPUTS} of them")))
        }
    };
    let base64 = match body.get("encoding_format").and_then(Value::as_str) {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => return Err(GatewayError::Invalid("encoding_format must be float or base64".into())),
    };
    let dimensions = match body.get("dimensions").filter(|v| !v.is_null()) {
        None => None,
        Some(d) => Some(
            d.as_i64()
                .filter(|d| (1..=16_384).contains(d))
                .ok_or_else(|| GatewayError::Invalid("dimensions must be a positive integer".into()))?,
        ),
    };
    let requested = body.get("model").and_then(Value::as_str).unwrap_or(DEFAULT_MODEL);
    let candidates = routing::embedding_candidates(&app.gateway.upstreams, Some(requested));
    if candidates.is_empty() {
        return Err(GatewayError::NoProvider("No embeddings provider configured".into()));
    }
    let candidates = own::apply(candidates, &own::load(app, payer, None).await?);
    let worst = candidates.iter().map(|c| charge(app, c, bytes + 16, 0).charged).max().unwrap_or(0);
    let r = metering::reserve(app, payer, RequestType::Embeddings, Mode::Auto, worst, metadata).await?;
    let mut attempts = Vec::new();
    let client = &app.gateway.client;
    let tried = try_in_order(app, &candidates, &mut attempts, |c| async move {
        providers::embed(client, &c.upstream, &c.model().name, input, dimensions).await
    })
    .await;
    let (c, mut answer) = match tried {
        Ok(found) => found,
        Err(failure) => {
            metering::release(app, payer, &r, &failure.code(), &Value::Array(attempts)).await?;
            return Err(upstream_error(failure));
        }
    };
    let tokens =
        Tokens { input: answer.pointer("/usage/prompt_tokens").and_then(Value::as_i64).unwrap_or(bytes), output: 0 };
    let charge = charge(app, &c, tokens.input, 0);
    let served = Served {
        provider: c.upstream.name.clone(),
        upstream_model: c.model().name.clone(),
        routing_method: "embeddings".into(),
        source: "upstream",
        billing_mode: c.billing.mode(),
        tokens,
        units: 0,
        cost_micros: charge.cost,
        charged_micros: charge.charged,
        // Embeddings have no baseline model: what it would have cost managed.
        baseline_micros: with_markup(charge.cost, app.config.gateway.gateway_markup_bps),
        attempts: Value::Array(attempts),
    };
    metering::settle(app, payer, &r, &served).await?;
    answer["model"] = json!(requested);
    answer["usage"] = json!({"prompt_tokens": tokens.input, "total_tokens": tokens.input});
    if base64 {
        encode_base64(&mut answer);
    }
    Ok(answer)
}

fn encode_base64(answer: &mut Value) {
    for item in answer.get_mut("data").and_then(Value::as_array_mut).into_iter().flatten() {
        if let Some(vector) = item.get("embedding").and_then(Value::as_array) {
            let bytes: Vec<u8> = vector.iter().flat_map(|x| (x.as_f64().unwrap_or(0.0) as f32).to_le_bytes()).collect();
            item["embedding"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
    }
}
