//! Calling one upstream model once: OpenAI-compatible chat completions and embeddings, and
//! Anthropic's Messages API translated to and from them. Answers and stream chunks come back
//! in OpenAI's shape whatever the upstream spoke; failures say whether another candidate may
//! be tried.

pub mod anthropic;
pub mod anthropic_stream;
pub mod sse;

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{json, Value};

use super::upstreams::{Kind, Upstream};
use sse::SseReader;

/// Why an attempt failed.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// `connect`, `timeout`, `reset`, `status`, `invalid` (an answer we could not read).
    pub kind: &'static str,
    pub status: Option<u16>,
    pub message: String,
    /// What the upstream's `Retry-After` said, in seconds.
    pub retry_after_secs: Option<u64>,
}

impl Failure {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Failure {
        Failure { kind, message: message.into(), ..Default::default() }
    }

    /// Whether the next candidate may do better: a connection that failed or broke, a
    /// timeout, 408, 409, 429 or a 5xx. Any other status is the request's own fault.
    pub fn retryable(&self) -> bool {
        match self.status {
            Some(s) => matches!(s, 408 | 409 | 429) || s >= 500,
            None => self.kind != "invalid",
        }
    }

    /// A short code for usage and provider-key status (`status_429`, `timeout`, ...).
    pub fn code(&self) -> String {
        match self.status {
            Some(s) => format!("status_{s}"),
            None => self.kind.to_string(),
        }
    }

    fn of_reqwest(e: reqwest::Error) -> Failure {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "reset"
        };
        Failure::new(kind, without_url(e).to_string())
    }
}

/// reqwest's errors name the URL, which may hold a key in its query; the gateway never shows it.
fn without_url(e: reqwest::Error) -> reqwest::Error {
    e.without_url()
}

/// A whole answer, or a stream of OpenAI chunks.
pub enum Answer {
    Whole(Value),
    Stream(Box<ChunkStream>),
}

pub struct ChunkStream {
    reader: SseReader,
    first_byte_timeout: Duration,
    translator: Option<anthropic_stream::StreamTranslator>,
    pending: VecDeque<Value>,
    done: bool,
}

impl ChunkStream {
    /// The next chunk, in OpenAI's shape; none when the stream ended. The first waits at most
    /// the upstream's first-byte timeout, and so does each later one.
    pub async fn next(&mut self) -> Result<Option<Value>, Failure> {
        loop {
            if let Some(chunk) = self.pending.pop_front() {
                return Ok(Some(chunk));
            }
            if self.done {
                return Ok(None);
            }
            let event = tokio::time::timeout(self.first_byte_timeout, self.reader.next())
                .await
                .map_err(|_| Failure::new("timeout", "the upstream stopped sending"))?
                .map_err(Failure::of_reqwest)?;
            let Some(event) = event else {
                self.done = true;
                continue;
            };
            if event.data.trim() == "[DONE]" {
                self.done = true;
                continue;
            }
            let data: Value = serde_json::from_str(&event.data)
                .map_err(|_| Failure::new("invalid", "the upstream sent a chunk that is not JSON"))?;
            match &mut self.translator {
                Some(t) => {
                    self.pending.extend(t.event(&event.event, &data).map_err(|m| Failure::new("status", m))?);
                    self.done = t.finished();
                }
                None if data.get("error").is_some() => {
                    return Err(Failure::new("status", error_text(&data).unwrap_or_else(|| "upstream error".into())));
                }
                None => self.pending.push_back(data),
            }
        }
    }

    /// Tokens an Anthropic stream reported (OpenAI streams carry them in a chunk).
    pub fn translated_usage(&self) -> Option<(u64, u64)> {
        self.translator.as_ref().map(|t| t.usage())
    }
}

/// Sends a chat request (OpenAI's JSON as the client sent it) to one upstream model.
pub async fn chat(
    client: &reqwest::Client,
    upstream: &Upstream,
    model: &str,
    body: &Value,
    stream: bool,
    default_max_tokens: u32,
) -> Result<Answer, Failure> {
    let (url, payload) =
        match upstream.kind {
            Kind::Openai => {
                let mut payload = body.clone();
                payload["model"] = json!(model);
                payload["stream"] = json!(stream);
                if stream {
                    // The gateway meters every stream: ask for the usage chunk whatever the client asked.
                    payload["stream_options"] = json!({"include_usage": true});
                } else if let Some(o) = payload.as_object_mut() {
                    o.remove("stream_options");
                }
                (format!("{}/chat/completions", upstream.base_url), payload)
            }
            Kind::Anthropic => {
                let mut payload = anthropic::messages_request(body, model, default_max_tokens)
                    .map_err(|m| Failure { kind: "invalid", status: Some(400), message: m, ..Default::default() })?;
                payload["stream"] = json!(stream);
                (format!("{}/messages", upstream.base_url), payload)
            }
        };
    let request = authorized(client.post(url), upstream).json(&payload);
    let wait = if stream { upstream.first_byte_timeout } else { upstream.timeout };
    let response = tokio::time::timeout(wait, request.timeout(upstream.timeout).send())
        .await
        .map_err(|_| Failure::new("timeout", "the upstream did not answer in time"))?
        .map_err(Failure::of_reqwest)?;
    let response = ok_or_failure(response).await?;
    if stream {
        let translator = (upstream.kind == Kind::Anthropic).then(|| anthropic_stream::StreamTranslator::new("", 0, ""));
        return Ok(Answer::Stream(Box::new(ChunkStream {
            reader: SseReader::new(response),
            first_byte_timeout: upstream.first_byte_timeout,
            translator,
            pending: VecDeque::new(),
            done: false,
        })));
    }
    let answer: Value = read_json(response, upstream.timeout).await?;
    match upstream.kind {
        Kind::Openai => Ok(Answer::Whole(answer)),
        Kind::Anthropic => {
            anthropic::chat_completion(&answer, "", 0, "").map(Answer::Whole).map_err(|m| Failure::new("invalid", m))
        }
    }
}

/// Embeds `input` (a string or an array of them) with one upstream model; the answer is
/// OpenAI's, with float vectors.
pub async fn embed(
    client: &reqwest::Client,
    upstream: &Upstream,
    model: &str,
    input: &Value,
    dimensions: Option<i64>,
) -> Result<Value, Failure> {
    if upstream.kind != Kind::Openai {
        return Err(Failure::new("invalid", "this upstream does not embed"));
    }
    let mut payload = json!({"model": model, "input": input, "encoding_format": "float"});
    if let Some(d) = dimensions {
        payload["dimensions"] = json!(d);
    }
    let request = authorized(client.post(format!("{}/embeddings", upstream.base_url)), upstream).json(&payload);
    let response = request.timeout(upstream.timeout).send().await.map_err(Failure::of_reqwest)?;
    read_json(ok_or_failure(response).await?, upstream.timeout).await
}

/// A media request's body.
pub enum MediaBody {
    Json(Value),
    /// Multipart form data, encoded (`content_type` carries the boundary).
    Form {
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// Calls an OpenAI-compatible media route (`images/generations`, `audio/speech`, ...) of one
/// upstream, and answers its successful response's content type and bytes.
pub async fn media(
    client: &reqwest::Client,
    upstream: &Upstream,
    method: reqwest::Method,
    path: &str,
    body: Option<&MediaBody>,
) -> Result<(String, axum::body::Bytes), Failure> {
    if upstream.kind != Kind::Openai {
        return Err(Failure::new("invalid", "this upstream has no media routes"));
    }
    let mut request = authorized(client.request(method, format!("{}/{path}", upstream.base_url)), upstream);
    request = match body {
        None => request,
        Some(MediaBody::Json(v)) => request.json(v),
        Some(MediaBody::Form { content_type, bytes }) => {
            request.header(reqwest::header::CONTENT_TYPE, content_type).body(bytes.clone())
        }
    };
    let response = tokio::time::timeout(upstream.timeout, request.timeout(upstream.timeout).send())
        .await
        .map_err(|_| Failure::new("timeout", "the upstream did not answer in time"))?
        .map_err(Failure::of_reqwest)?;
    let response = ok_or_failure(response).await?;
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = tokio::time::timeout(upstream.timeout, response.bytes())
        .await
        .map_err(|_| Failure::new("timeout", "the upstream did not finish its answer in time"))?
        .map_err(Failure::of_reqwest)?;
    Ok((content_type, bytes))
}

fn authorized(mut request: reqwest::RequestBuilder, upstream: &Upstream) -> reqwest::RequestBuilder {
    for (name, value) in &upstream.headers {
        request = request.header(name, value);
    }
    match upstream.kind {
        Kind::Openai if upstream.api_key.is_empty() => request,
        Kind::Openai => request.bearer_auth(&upstream.api_key),
        Kind::Anthropic => request.header("x-api-key", &upstream.api_key).header("anthropic-version", "2023-06-01"),
    }
}

/// A 2xx response, or the failure its status and error body say.
async fn ok_or_failure(response: reqwest::Response) -> Result<reqwest::Response, Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after_secs = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body = tokio::time::timeout(Duration::from_secs(5), response.bytes()).await.ok().and_then(Result::ok);
    let message = body
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| error_text(&v))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    Err(Failure { kind: "status", status: Some(status.as_u16()), message, retry_after_secs })
}

async fn read_json(response: reqwest::Response, wait: Duration) -> Result<Value, Failure> {
    let bytes = tokio::time::timeout(wait, response.bytes())
        .await
        .map_err(|_| Failure::new("timeout", "the upstream did not finish its answer in time"))?
        .map_err(Failure::of_reqwest)?;
    serde_json::from_slice(&bytes).map_err(|_| Failure::new("invalid", "the upstream's answer is not JSON"))
}

/// The message of an error body: OpenAI's (`error.message`), vLLM's flat one or Anthropic's.
fn error_text(body: &Value) -> Option<String> {
    anthropic::error_message(body)
        .or_else(|| body.pointer("/error/message").and_then(Value::as_str).map(str::to_string))
        .or_else(|| body.get("message").and_then(Value::as_str).map(str::to_string))
        .or_else(|| body.get("error").and_then(Value::as_str).map(str::to_string))
}
