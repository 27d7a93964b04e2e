//! Chat completions: route, reserve, try the candidates in order, settle, answer. Streams share
//! the routing, the reservation and the attempts (`stream.rs`).

use std::time::Instant;

use serde_json::{json, Value};

use super::errors::GatewayError;
use super::local_endpoints;
use super::metering::{self, Payer, Reservation, Served};
use super::model::{ceil_div, with_markup, ChatShape, Mode, RequestType, Tokens};
use super::own;
use super::provider_keys;
use super::providers::{self, Answer, ChunkStream, Failure};
use super::routing::{self, Billing, Candidate, Plan};
use super::upstreams::UpstreamModel;
use crate::state::App;

/// Whether a request may be answered from the cache and its answer stored in it (the
/// `Cache-Control` request header: `no-cache` skips reading, `no-store` both).
#[derive(Debug, Clone, Copy)]
pub struct CacheUse {
    pub read: bool,
    pub write: bool,
}

/// A request routed and checked, before any money moves.
pub struct Prepared {
    pub body: Value,
    pub shape: ChatShape,
    pub plan: Plan,
    pub cache_key: [u8; 32],
    /// The most any candidate could cost for it, in micro-USD with the markup.
    pub worst_micros: i64,
}

pub async fn prepare(app: &App, payer: &Payer, body: Value) -> Result<Prepared, GatewayError> {
    let g = &app.config.gateway;
    let shape = ChatShape::of(&body).map_err(GatewayError::Invalid)?;
    let requested = match body.get("model") {
        None | Some(Value::Null) => "auto",
        Some(Value::String(m)) => m.as_str(),
        Some(_) => return Err(GatewayError::Invalid("model must be a string".into())),
    };
    let reserve_out = shape.max_tokens.unwrap_or(i64::from(g.gateway_default_max_tokens));
    let upstreams = &app.gateway.upstreams;
    let own = own::load(app, payer, Some(requested)).await?;
    let managed = routing::plan(upstreams, requested, &shape, g.gateway_auto_escalate_tokens as i64, reserve_out);
    let plan = match managed {
        Some(mut plan) => {
            plan.candidates = own::apply(plan.candidates, &own);
            plan
        }
        // A model only the account's own endpoint serves.
        None if !own.local.is_empty() => Plan {
            tier: Mode::Auto,
            echo: requested.to_string(),
            candidates: own::apply(Vec::new(), &own),
            method: "local",
        },
        None => return Err(no_provider(requested)),
    };
    let worst_micros =
        plan.candidates.iter().map(|c| charge(app, c, shape.prompt_bound, reserve_out).charged).max().unwrap_or(0);
    let cache_key = super::cache::key(&payer.agent_id, &body);
    Ok(Prepared { body, shape, plan, cache_key, worst_micros })
}

fn no_provider(requested: &str) -> GatewayError {
    GatewayError::NoProvider(format!(
        "No provider configured for model {requested:?} that can take this request (tools, images, context length)"
    ))
}

/// A whole completion, with what it cost.
pub struct Answered {
    pub body: Value,
    pub cache_hit: bool,
    pub charged_micros: i64,
}

pub async fn complete(
    app: &App,
    payer: &Payer,
    p: Prepared,
    cache: CacheUse,
    metadata: &Value,
) -> Result<Answered, GatewayError> {
    if let Some(hit) = cached(app, payer, &p, cache, metadata).await? {
        return Ok(hit);
    }
    let r = metering::reserve(app, payer, RequestType::Chat, p.plan.tier, p.worst_micros, metadata).await?;
    let mut attempts = Vec::new();
    let (candidate, got) = match first_success(app, &p.plan, &p.body, false, &mut attempts).await {
        Ok(found) => found,
        Err(failure) => {
            metering::release(app, payer, &r, &failure.code(), &Value::Array(attempts)).await?;
            return Err(upstream_error(failure));
        }
    };
    let Got::Whole(mut body) = got else { unreachable!("a request that did not ask for a stream got one") };
    let tokens = body.get("usage").and_then(Tokens::of_usage).unwrap_or_else(|| estimate(&p.shape, &body));
    let served = served(app, &p.plan, &candidate, tokens, Value::Array(attempts));
    let charged_micros = metering::settle(app, payer, &r, &served).await?;
    present(&mut body, &p.plan, &r.usage_id, tokens);
    if cache.write && finished_cleanly(&body) {
        app.gateway.cache.put(p.cache_key, body.clone());
    }
    Ok(Answered { body, cache_hit: false, charged_micros })
}

/// The cached answer for the request, recorded as a free request, if there is one.
pub async fn cached(
    app: &App,
    payer: &Payer,
    p: &Prepared,
    cache: CacheUse,
    metadata: &Value,
) -> Result<Option<Answered>, GatewayError> {
    if !cache.read {
        return Ok(None);
    }
    let Some((hit, _age)) = app.gateway.cache.get(&p.cache_key) else { return Ok(None) };
    let tokens = hit.get("usage").and_then(Tokens::of_usage).unwrap_or_default();
    let served = Served {
        routing_method: p.plan.method.into(),
        source: "cache",
        tokens,
        attempts: json!([]),
        ..Default::default()
    };
    metering::record_cache_hit(app, payer, p.plan.tier, &served, metadata).await?;
    let mut body = (*hit).clone();
    body["id"] = json!(format!("chatcmpl-{}", crate::db::new_id()));
    body["model"] = json!(p.plan.echo);
    Ok(Some(Answered { body, cache_hit: true, charged_micros: 0 }))
}

/// What routing got back from the first candidate that answered.
pub enum Got {
    Whole(Value),
    /// A stream and its first chunk: a stream counts as answered once a chunk came.
    Stream(Box<ChunkStream>, Value),
}

/// Tries the plan's candidates in order until one answers.
pub async fn first_success(
    app: &App,
    plan: &Plan,
    body: &Value,
    stream: bool,
    attempts: &mut Vec<Value>,
) -> Result<(Candidate, Got), Failure> {
    try_in_order(app, &plan.candidates, attempts, |c| attempt(app, c, body, stream)).await
}

/// Calls `call` with each candidate in order (skipping an upstream whose breaker is open unless
/// it is the last one) until one answers, at most `gateway_max_attempts` of them, recording every
/// attempt. A failure the next candidate cannot help with (the request's own fault) stops there.
pub async fn try_in_order<T, F, Fut>(
    app: &App,
    candidates: &[Candidate],
    attempts: &mut Vec<Value>,
    mut call: F,
) -> Result<(Candidate, T), Failure>
where
    F: FnMut(Candidate) -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let g = &app.gateway;
    let max = app.config.gateway.gateway_max_attempts as usize;
    let mut last = None;
    let mut tried = 0;
    for (i, c) in candidates.iter().enumerate() {
        // The account's own routes do not spend the attempts the managed ones need.
        let own = c.billing != Billing::Managed;
        if tried >= max && !own {
            break;
        }
        let (provider, model, billing) = (&c.upstream.name, &c.model().name, c.billing.mode());
        let record = |outcome: &str, ms: Option<u64>| json!({"provider": provider, "model": model, "billing": billing, "outcome": outcome, "ms": ms});
        if g.breakers.is_open(c.breaker_key()) && i + 1 < candidates.len() {
            attempts.push(record("circuit_open", None));
            continue;
        }
        tried += usize::from(!own);
        let started = Instant::now();
        let result = call(c.clone()).await;
        let ms = Some(started.elapsed().as_millis() as u64);
        if let Billing::Byok { key_id } = &c.billing {
            let outcome = match &result {
                Ok(_) => Ok(()),
                Err(f) => Err(f),
            };
            if let Err(e) = provider_keys::record(&app.db, key_id, outcome).await {
                tracing::warn!(error = %e, provider_key = %key_id, "recording a provider key's status");
            }
        }
        match result {
            Ok(answer) => {
                g.breakers.success(c.breaker_key());
                attempts.push(record("ok", ms));
                return Ok((c.clone(), answer));
            }
            Err(f) => {
                attempts.push(record(&f.code(), ms));
                if !f.retryable() && !own {
                    return Err(f);
                }
                g.breakers.failure(c.breaker_key());
                last = Some(f);
            }
        }
    }
    Err(last.unwrap_or_else(|| Failure::new("connect", "no upstream could be tried")))
}

async fn attempt(app: &App, c: Candidate, body: &Value, stream: bool) -> Result<Got, Failure> {
    let default_max = app.config.gateway.gateway_default_max_tokens;
    let client = client_for(app, &c).await?;
    match providers::chat(&client, &c.upstream, &c.model().name, body, stream, default_max).await? {
        Answer::Whole(v) => Ok(Got::Whole(v)),
        Answer::Stream(mut s) => match s.next().await? {
            Some(first) => Ok(Got::Stream(s, first)),
            None => Err(Failure::new("reset", "the upstream's stream was empty")),
        },
    }
}

/// The client's error for a request no candidate served: a request the upstream refused keeps
/// its status; rate limits stay 429; a timeout is 504; anything else 502.
pub fn upstream_error(f: Failure) -> GatewayError {
    let status = match (f.status, f.kind) {
        (Some(429), _) => 429,
        (Some(s), _) if (400..500).contains(&s) && !f.retryable() => s,
        (_, "timeout") => 504,
        _ => 502,
    };
    GatewayError::Upstream { status, message: format!("upstream request failed: {}", f.message) }
}

/// The client for a candidate: the gateway's for the operator's upstreams; for an account's
/// local endpoint one pinned to the address the outbound guard checked.
pub async fn client_for(app: &App, c: &Candidate) -> Result<reqwest::Client, Failure> {
    if !matches!(c.billing, Billing::Local { .. }) {
        return Ok(app.gateway.client.clone());
    }
    local_endpoints::pinned_client(app, &c.upstream.base_url).await.map_err(|why| Failure::new("connect", why))
}

/// What `input` and `output` tokens through a candidate cost upstream, what the account is
/// charged, and the baseline (in micro-USD); see `billed`.
pub fn charge(app: &App, c: &Candidate, input: i64, output: i64) -> Charge {
    let model = c.model();
    let baseline_price = baseline_model(app).unwrap_or(model).price;
    let baseline = with_markup(baseline_price.cost(input, output), app.config.gateway.gateway_markup_bps);
    billed(app, c, model.price.cost(input, output), baseline)
}

/// The same for a media request of `units` (its baseline is its managed price).
pub fn charge_units(app: &App, c: &Candidate, units: i64) -> Charge {
    let cost = units.max(0).saturating_mul(c.model().unit_price);
    billed(app, c, cost, with_markup(cost, app.config.gateway.gateway_markup_bps))
}

/// Managed: the cost plus the markup. BYOK: the account paid its provider; it is charged
/// `gateway_byok_fee_bps` of the managed charge. Local: nothing upstream;
/// `gateway_local_fee_bps` of the baseline.
fn billed(app: &App, c: &Candidate, cost: i64, baseline: i64) -> Charge {
    let g = &app.config.gateway;
    let managed = with_markup(cost, g.gateway_markup_bps);
    let fee = |micros: i64, bps: u32| ceil_div(i128::from(micros) * i128::from(bps), 10_000) as i64;
    match c.billing {
        Billing::Managed => Charge { cost, charged: managed, baseline },
        Billing::Byok { .. } => Charge { cost, charged: fee(managed, g.gateway_byok_fee_bps), baseline },
        Billing::Local { .. } => Charge { cost: 0, charged: fee(baseline, g.gateway_local_fee_bps), baseline },
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Charge {
    pub cost: i64,
    pub charged: i64,
    pub baseline: i64,
}

/// What a served request cost, and how it was served.
pub fn served(app: &App, plan: &Plan, c: &Candidate, tokens: Tokens, attempts: Value) -> Served {
    let charge = charge(app, c, tokens.input, tokens.output);
    Served {
        provider: c.upstream.name.clone(),
        upstream_model: c.model().name.clone(),
        routing_method: plan.method.into(),
        source: "upstream",
        billing_mode: c.billing.mode(),
        tokens,
        units: 0,
        cost_micros: charge.cost,
        charged_micros: charge.charged,
        baseline_micros: charge.baseline,
        attempts,
    }
}

/// The model savings are measured against: the first `max` model.
fn baseline_model(app: &App) -> Option<&UpstreamModel> {
    app.gateway.upstreams.list.iter().flat_map(|u| u.models.iter()).find(|m| m.modes.contains(&Mode::Max))
}

/// Tokens when the upstream did not say: the prompt's bound, and a token per 4 bytes out.
pub fn estimate(shape: &ChatShape, body: &Value) -> Tokens {
    let out = body.pointer("/choices/0/message").map_or(0, |m| m.to_string().len() as i64);
    Tokens { input: shape.prompt_bound, output: (out + 3) / 4 }
}

/// The answer as the client sees it: our id, the model it asked for, no upstream fingerprint.
fn present(body: &mut Value, plan: &Plan, usage_id: &str, tokens: Tokens) {
    body["id"] = json!(format!("chatcmpl-{usage_id}"));
    body["model"] = json!(plan.echo);
    body["object"] = json!("chat.completion");
    body["usage"] = tokens.usage_json();
    if let Some(o) = body.as_object_mut() {
        o.remove("system_fingerprint");
    }
}

fn finished_cleanly(body: &Value) -> bool {
    body.pointer("/choices/0/finish_reason").and_then(Value::as_str).is_some_and(|r| r != "content_filter")
}

/// The reservation's id as the completion's id.
pub fn completion_id(r: &Reservation) -> String {
    format!("chatcmpl-{}", r.usage_id)
}
