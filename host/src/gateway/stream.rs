//! Streamed chat completions (`stream: true`), in OpenAI's chunk format.
//!
//! The reservation is made and the candidates are tried before the response starts: a candidate
//! that fails before its first chunk is replaced by the next one, and if none answers the client
//! gets an error status, not a broken stream. Then a task of its own forwards the chunks (our id,
//! the requested model), assembles the answer, and, when the upstream ends (or the client goes
//! away, or the upstream breaks), settles the charge; the usage chunk (if asked for) and
//! `[DONE]` are sent only after that commit. Because the task owns the settlement, a client
//! that disconnects still pays for what was generated, and no more.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::chat::{self, CacheUse, Got, Prepared};
use super::errors::GatewayError;
use super::metering::{self, Payer, Reservation};
use super::model::{micros_to_usd, RequestType, Tokens};
use crate::state::App;

pub struct Started {
    pub events: mpsc::Receiver<Bytes>,
    pub cache_hit: bool,
}

pub async fn start(
    app: Arc<App>,
    payer: Payer,
    p: Prepared,
    cache: CacheUse,
    metadata: Value,
) -> Result<Started, GatewayError> {
    if let Some(hit) = chat::cached(&app, &payer, &p, cache, &metadata).await? {
        let events = replay(&hit.body, p.shape.include_usage);
        let (tx, rx) = mpsc::channel(events.len().max(1));
        for e in events {
            let _ = tx.try_send(e);
        }
        return Ok(Started { events: rx, cache_hit: true });
    }
    let r = metering::reserve(&app, &payer, RequestType::Chat, p.plan.tier, p.worst_micros, &metadata).await?;
    let (started_tx, started_rx) = oneshot::channel();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(pump(app, payer, p, r, cache, tx, started_tx));
    match started_rx.await {
        Ok(Ok(())) => Ok(Started { events: rx, cache_hit: false }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(GatewayError::Upstream { status: 502, message: "the stream ended before it started".into() }),
    }
}

async fn pump(
    app: Arc<App>,
    payer: Payer,
    p: Prepared,
    r: Reservation,
    cache: CacheUse,
    tx: mpsc::Sender<Bytes>,
    started: oneshot::Sender<Result<(), GatewayError>>,
) {
    let mut attempts = Vec::new();
    let (candidate, mut upstream, first) = match chat::first_success(&app, &p.plan, &p.body, true, &mut attempts).await
    {
        Ok((c, Got::Stream(s, first))) => (c, s, first),
        Ok((_, Got::Whole(_))) => unreachable!("a stream was asked for"),
        Err(failure) => {
            if let Err(e) = metering::release(&app, &payer, &r, &failure.code(), &Value::Array(attempts)).await {
                tracing::error!(error = %e, usage = %r.usage_id, "releasing a failed stream's reservation");
            }
            let _ = started.send(Err(chat::upstream_error(failure)));
            return;
        }
    };
    let client_waiting = started.send(Ok(())).is_ok();
    let mut answer = Assembled::new(&chat::completion_id(&r), &p.plan.echo);
    let (mut client_gone, mut broken) = (!client_waiting, None);
    let mut next = Some(first);
    while !client_gone {
        let chunk = match next.take() {
            Some(chunk) => chunk,
            None => match upstream.next().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(f) => {
                    broken = Some(f);
                    break;
                }
            },
        };
        if let Some(t) = chunk.get("usage").and_then(Tokens::of_usage) {
            answer.tokens = Some(t);
        }
        if chunk.get("choices").and_then(Value::as_array).is_none_or(Vec::is_empty) {
            continue;
        }
        answer.absorb(&chunk);
        let out = answer.chunk(chunk.pointer("/choices/0").cloned().unwrap_or(Value::Null), p.shape.include_usage);
        client_gone = tx.send(event(&out)).await.is_err();
    }
    let translated = upstream.translated_usage();
    drop(upstream);
    let tokens = answer
        .tokens
        .or(translated.map(|(i, o)| Tokens { input: i as i64, output: o as i64 }))
        .unwrap_or_else(|| chat::estimate(&p.shape, &answer.completion()));
    let served = chat::served(&app, &p.plan, &candidate, tokens, Value::Array(attempts));
    let charged_micros = match metering::settle(&app, &payer, &r, &served).await {
        Ok(charged) => charged,
        Err(e) => {
            tracing::error!(error = %e, usage = %r.usage_id, "settling a stream");
            let _ = tx.send(error_event("the charge for this stream could not be recorded", "internal")).await;
            return;
        }
    };
    if client_gone {
        return;
    }
    if let Some(f) = broken {
        let _ = tx.send(error_event(&format!("the upstream stream broke: {}", f.message), "upstream_error")).await;
        return;
    }
    answer.tokens = Some(tokens);
    if p.shape.include_usage {
        let mut last = answer.chunk(Value::Null, true);
        last["choices"] = json!([]);
        last["usage"] = tokens.usage_json();
        // What the stream was charged (USD), as OpenRouter reports it: headers left long ago.
        last["usage"]["cost"] = json!(micros_to_usd(charged_micros));
        let _ = tx.send(event(&last)).await;
    }
    let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    if cache.write && answer.finish_reason.is_some() {
        app.gateway.cache.put(p.cache_key, answer.completion());
    }
}

fn event(chunk: &Value) -> Bytes {
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// An error inside a stream that has started: OpenAI clients raise `APIError` with it.
fn error_event(message: &str, code: &str) -> Bytes {
    event(&json!({"error": {"message": message, "type": "api_error", "param": null, "code": code}}))
}

/// A cached completion as the chunks of a stream.
fn replay(body: &Value, include_usage: bool) -> Vec<Bytes> {
    let id = body["id"].as_str().unwrap_or_default();
    let a = Assembled::new(id, body["model"].as_str().unwrap_or_default());
    let message = body.pointer("/choices/0/message").cloned().unwrap_or(json!({}));
    let finish = body.pointer("/choices/0/finish_reason").cloned().unwrap_or(json!("stop"));
    let mut delta = json!({"role": "assistant", "content": message.get("content").cloned().unwrap_or(Value::Null)});
    if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
        let indexed: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                c["index"] = json!(i);
                c
            })
            .collect();
        delta["tool_calls"] = json!(indexed);
    }
    let mut events = vec![
        event(&a.chunk(json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": null}), include_usage)),
        event(&a.chunk(json!({"index": 0, "delta": {}, "logprobs": null, "finish_reason": finish}), include_usage)),
    ];
    if include_usage {
        let mut last = a.chunk(Value::Null, true);
        last["choices"] = json!([]);
        last["usage"] = body.get("usage").cloned().unwrap_or(Value::Null);
        events.push(event(&last));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// The answer a stream carried, put together for the cache and for metering.
struct Assembled {
    id: String,
    model: String,
    created: i64,
    content: String,
    tool_calls: Vec<Value>,
    finish_reason: Option<Value>,
    tokens: Option<Tokens>,
}

impl Assembled {
    fn new(id: &str, model: &str) -> Assembled {
        Assembled {
            id: id.to_string(),
            model: model.to_string(),
            created: crate::db::now_ms() / 1000,
            content: String::new(),
            tool_calls: Vec::new(),
            finish_reason: None,
            tokens: None,
        }
    }

    fn absorb(&mut self, chunk: &Value) {
        let Some(choice) = chunk.pointer("/choices/0") else { return };
        if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
            self.content.push_str(text);
        }
        for call in choice.pointer("/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            while self.tool_calls.len() <= index {
                self.tool_calls.push(json!({"id": "", "type": "function", "function": {"name": "", "arguments": ""}}));
            }
            let slot = &mut self.tool_calls[index];
            for (path, field) in [("/id", "id"), ("/function/name", "name"), ("/function/arguments", "arguments")] {
                if let Some(part) = call.pointer(path).and_then(Value::as_str) {
                    let target = if field == "id" { &mut slot["id"] } else { &mut slot["function"][field] };
                    let joined = format!("{}{part}", target.as_str().unwrap_or_default());
                    *target = json!(joined);
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
            self.finish_reason = Some(reason.clone());
        }
    }

    /// A chunk of ours around `choice`.
    fn chunk(&self, choice: Value, include_usage: bool) -> Value {
        let mut chunk = json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                               "model": self.model, "choices": [choice]});
        if include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    fn completion(&self) -> Value {
        let mut message = json!({"role": "assistant", "content": self.content, "refusal": null});
        if !self.tool_calls.is_empty() {
            message["tool_calls"] = json!(self.tool_calls);
            if self.content.is_empty() {
                message["content"] = Value::Null;
            }
        }
        json!({"id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
               "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": self.finish_reason}],
               "usage": self.tokens.map(|t| t.usage_json())})
    }
}
