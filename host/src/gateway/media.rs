//! Media requests passed through to an upstream that has them: images, speech, transcriptions
//! and videos. Each is routed like chat (a mode's models first, a native name as an alias,
//! fallback on failure, the account's provider keys first), held before the call at its worst
//! case and billed per unit at the model's `unit_price` with the markup: an image returned, 1,000
//! characters spoken (started), a megabyte transcribed (started), a second of video asked for.

use axum::body::Bytes;
use serde_json::{json, Value};

use super::chat::{charge_units, try_in_order, upstream_error};
use super::errors::GatewayError;
use super::metering::{self, Payer, Served};
use super::model::{Mode, RequestType};
use super::own;
use super::providers::{self, MediaBody};
use super::routing::{self, Candidate};
use crate::state::App;

/// The largest audio file a transcription takes (OpenAI's limit).
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;
const MEGABYTE: i64 = 1024 * 1024;

/// What the upstream answered, and what the account was charged (micro-USD).
pub struct MediaAnswer {
    pub content_type: String,
    pub bytes: Bytes,
    pub charged_micros: i64,
    pub usage_id: String,
}

/// A media request ready to route: its type, the model asked for, the most units it can be
/// billed, and the body to send (its `model` is set per candidate).
struct Request<'a> {
    kind: RequestType,
    path: &'a str,
    requested: String,
    max_units: i64,
    body: MediaRequestBody,
    /// The account's own provider keys may serve it (not videos, polled later with our key).
    own_routes: bool,
}

enum MediaRequestBody {
    Json(Value),
    Form(Vec<FormField>),
}

/// One field of a multipart form: text, or a file with its name and type.
#[derive(Debug, Clone)]
pub struct FormField {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

async fn route(
    app: &App,
    payer: &Payer,
    req: Request<'_>,
    units_of: impl Fn(&str, &Bytes) -> i64,
) -> Result<(Candidate, MediaAnswer), GatewayError> {
    let capability = req.kind.as_str();
    let mut candidates = routing::media_candidates(&app.gateway.upstreams, capability, &req.requested);
    if candidates.is_empty() {
        return Err(GatewayError::NoProvider(format!(
            "No {capability} provider configured for model {:?}",
            req.requested
        )));
    }
    if req.own_routes {
        candidates = own::apply(candidates, &own::load(app, payer, None).await?);
    }
    let worst = candidates.iter().map(|c| charge_units(app, c, req.max_units).charged).max().unwrap_or(0);
    let tier = req.requested.parse::<Mode>().unwrap_or(Mode::Auto);
    let r = metering::reserve(app, payer, req.kind, tier, worst, &json!({})).await?;
    let mut attempts = Vec::new();
    let client = &app.gateway.client;
    let (body, path) = (&req.body, req.path);
    let tried = try_in_order(app, &candidates, &mut attempts, |c| async move {
        let body = with_model(body, &c.model().name);
        providers::media(client, &c.upstream, reqwest::Method::POST, path, Some(&body)).await
    })
    .await;
    let (c, (content_type, bytes)) = match tried {
        Ok(found) => found,
        Err(failure) => {
            metering::release(app, payer, &r, &failure.code(), &Value::Array(attempts)).await?;
            return Err(upstream_error(failure));
        }
    };
    let units = units_of(&content_type, &bytes).clamp(0, req.max_units);
    let charge = charge_units(app, &c, units);
    let served = Served {
        provider: c.upstream.name.clone(),
        upstream_model: c.model().name.clone(),
        routing_method: "media".into(),
        source: "upstream",
        billing_mode: c.billing.mode(),
        units,
        cost_micros: charge.cost,
        charged_micros: charge.charged,
        baseline_micros: charge.baseline,
        attempts: Value::Array(attempts),
        ..Default::default()
    };
    let charged_micros = metering::settle(app, payer, &r, &served).await?;
    Ok((c, MediaAnswer { content_type, bytes, charged_micros, usage_id: r.usage_id }))
}

fn with_model(body: &MediaRequestBody, model: &str) -> MediaBody {
    match body {
        MediaRequestBody::Json(v) => {
            let mut v = v.clone();
            v["model"] = json!(model);
            MediaBody::Json(v)
        }
        MediaRequestBody::Form(fields) => {
            let mut fields: Vec<FormField> = fields.iter().filter(|f| f.name != "model").cloned().collect();
            fields.push(FormField {
                name: "model".into(),
                file_name: None,
                content_type: None,
                data: Bytes::copy_from_slice(model.as_bytes()),
            });
            encode_form(&fields)
        }
    }
}

/// Multipart form data (RFC 7578) of `fields`, with a random boundary.
fn encode_form(fields: &[FormField]) -> MediaBody {
    let boundary = format!("agora-{}", crate::secrets::random_token(24));
    let mut bytes = Vec::new();
    for f in fields {
        bytes.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", quoted(&f.name)).as_bytes(),
        );
        if let Some(file) = &f.file_name {
            bytes.extend_from_slice(format!("; filename=\"{}\"", quoted(file)).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        if let Some(t) = &f.content_type {
            bytes.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&f.data);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    MediaBody::Form { content_type: format!("multipart/form-data; boundary={boundary}"), bytes }
}

/// A header parameter's value without what would end it.
fn quoted(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\')).collect()
}

fn requested_model(body: &Value) -> Result<String, GatewayError> {
    match body.get("model") {
        None | Some(Value::Null) => Ok("auto".into()),
        Some(Value::String(m)) if m.len() <= 200 => Ok(m.clone()),
        Some(_) => Err(GatewayError::Invalid("model must be a string".into())),
    }
}

fn text_field<'b>(body: &'b Value, field: &str, max_chars: usize) -> Result<&'b str, GatewayError> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty() && t.chars().count() <= max_chars)
        .ok_or_else(|| GatewayError::Invalid(format!("{field} must be a string of 1 to {max_chars} characters")))
}

fn one_of(body: &Value, field: &str, allowed: &[&str]) -> Result<(), GatewayError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(v)) if allowed.contains(&v.as_str()) => Ok(()),
        Some(_) => Err(GatewayError::Invalid(format!("{field} must be one of {}", allowed.join(", ")))),
    }
}

fn number_in(body: &Value, field: &str, min: f64, max: f64) -> Result<Option<f64>, GatewayError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| GatewayError::Invalid(format!("{field} must be a number from {min} to {max}"))),
    }
}

/// `POST /v1/images/generations`: billed per image returned.
pub async fn images(app: &App, payer: &Payer, body: Value) -> Result<MediaAnswer, GatewayError> {
    text_field(&body, "prompt", 32_000)?;
    let n = number_in(&body, "n", 1.0, 10.0)?.unwrap_or(1.0);
    if n.fract() != 0.0 {
        return Err(GatewayError::Invalid("n must be a whole number from 1 to 10".into()));
    }
    one_of(&body, "response_format", &["url", "b64_json"])?;
    let requested = requested_model(&body)?;
    let req = Request {
        kind: RequestType::Images,
        path: "images/generations",
        requested: requested.clone(),
        max_units: n as i64,
        body: MediaRequestBody::Json(body),
        own_routes: true,
    };
    let (_, mut answer) = route(app, payer, req, |_, bytes| {
        serde_json::from_slice::<Value>(bytes).ok().and_then(|v| v["data"].as_array().map(Vec::len)).unwrap_or(0) as i64
    })
    .await?;
    answer.bytes = echo_model(&answer.bytes, &requested);
    Ok(answer)
}

/// `POST /v1/audio/speech`: raw audio, billed per 1,000 characters started.
pub async fn speech(app: &App, payer: &Payer, body: Value) -> Result<MediaAnswer, GatewayError> {
    let chars = text_field(&body, "input", 4_096)?.chars().count() as i64;
    one_of(&body, "response_format", &["mp3", "opus", "aac", "flac", "wav", "pcm"])?;
    number_in(&body, "speed", 0.25, 4.0)?;
    let mut body = body;
    if body.get("voice").is_none_or(Value::is_null) {
        body["voice"] = json!("alloy");
    }
    let req = Request {
        kind: RequestType::Speech,
        path: "audio/speech",
        requested: requested_model(&body)?,
        max_units: (chars + 999) / 1_000,
        body: MediaRequestBody::Json(body),
        own_routes: true,
    };
    let units = req.max_units;
    Ok(route(app, payer, req, move |_, _| units).await?.1)
}

/// `POST /v1/audio/transcriptions` from the form's fields: billed per megabyte started.
pub async fn transcription(app: &App, payer: &Payer, fields: Vec<FormField>) -> Result<MediaAnswer, GatewayError> {
    let file = fields
        .iter()
        .find(|f| f.name == "file" && f.file_name.is_some())
        .ok_or_else(|| GatewayError::Invalid("a file part (the audio) is required".into()))?;
    if file.data.is_empty() {
        return Err(GatewayError::Invalid("the file is empty".into()));
    }
    let text =
        |name: &str| fields.iter().find(|f| f.name == name).map(|f| String::from_utf8_lossy(&f.data).into_owned());
    let form = json!({
        "model": text("model"),
        "response_format": text("response_format"),
    });
    one_of(&form, "response_format", &["json", "text", "srt", "vtt", "verbose_json"])?;
    if let Some(t) = text("temperature") {
        t.parse::<f64>()
            .ok()
            .filter(|t| (0.0..=1.0).contains(t))
            .ok_or_else(|| GatewayError::Invalid("temperature must be a number from 0 to 1".into()))?;
    }
    let req = Request {
        kind: RequestType::Transcription,
        path: "audio/transcriptions",
        requested: requested_model(&form)?,
        max_units: (file.data.len() as i64 + MEGABYTE - 1) / MEGABYTE,
        body: MediaRequestBody::Form(fields.clone()),
        own_routes: true,
    };
    let units = req.max_units;
    Ok(route(app, payer, req, move |_, _| units).await?.1)
}

/// `POST /v1/videos/generations`: submits the job, billed per second asked for; answers our id.
pub async fn submit_video(app: &App, payer: &Payer, body: Value) -> Result<(Value, i64), GatewayError> {
    text_field(&body, "prompt", 32_000)?;
    let duration = number_in(&body, "duration", 1.0, 60.0)?.unwrap_or(5.0).ceil() as i64;
    number_in(&body, "fps", 1.0, 120.0)?;
    let req = Request {
        kind: RequestType::Video,
        path: "videos/generations",
        requested: requested_model(&body)?,
        max_units: duration,
        body: MediaRequestBody::Json(body),
        own_routes: false,
    };
    let (c, answer) = route(app, payer, req, move |_, _| duration).await?;
    let job: Value = serde_json::from_slice(&answer.bytes).unwrap_or_default();
    let Some(upstream_job) = job["id"].as_str() else {
        tracing::warn!(usage = %answer.usage_id, "a video upstream answered no job id");
        return Err(GatewayError::Upstream { status: 502, message: "the upstream answered no job id".into() });
    };
    let video =
        super::videos::record(app, &payer.agent_id, &answer.usage_id, &c.upstream.name, upstream_job, &job).await?;
    Ok((video, answer.charged_micros))
}

/// The answer with the `model` the client asked for instead of the upstream's.
fn echo_model(bytes: &Bytes, requested: &str) -> Bytes {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) if v.is_object() => {
            if v.get("model").is_some() {
                v["model"] = json!(requested);
            }
            Bytes::from(v.to_string())
        }
        _ => bytes.clone(),
    }
}
