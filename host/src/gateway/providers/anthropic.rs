//! Anthropic's Messages API, translated to and from OpenAI chat completions.
use serde_json::{json, Value};

/// The Messages request for an OpenAI chat request (`body` is the client's JSON as received).
/// `max_tokens` is required by Anthropic: the request's max_completion_tokens/max_tokens, else `default_max_tokens`.
/// system/developer messages -> top-level `system` (joined); text and `image_url` parts (data: URL -> base64 source,
/// http(s) URL -> url source); assistant `tool_calls` -> `tool_use` blocks (unparsable arguments -> Err); `tool`
/// messages -> `tool_result` blocks in a user turn; consecutive same-role turns merged; function `tools`,
/// `tool_choice`, `parallel_tool_calls: false`, temperature (clamped to 0..=1; top_p only without it), stop, `stream`.
/// Unknown OpenAI fields are ignored; unsupported roles, part or tool types are errors.
pub fn messages_request(body: &Value, upstream_model: &str, default_max_tokens: u32) -> Result<Value, String> {
    let messages = body.get("messages").and_then(Value::as_array).ok_or("`messages` must be an array")?;
    let mut system = Vec::new();
    let mut turns: Vec<(&str, Vec<Value>)> = Vec::new();
    for msg in messages {
        let content = msg.get("content").unwrap_or(&Value::Null);
        let (role, blocks) = match msg["role"].as_str().unwrap_or_default() {
            "system" | "developer" => {
                for block in content_blocks(content)? {
                    system.push(block["text"].as_str().ok_or("system messages may only hold text")?.to_owned());
                }
                continue;
            }
            "user" => ("user", content_blocks(content)?),
            "assistant" => ("assistant", assistant_blocks(msg)?),
            "tool" => ("user", vec![tool_result(msg)?]),
            other => return Err(format!("unsupported message role `{other}`")),
        };
        // Anthropic rejects empty turns and wants user/assistant to alternate.
        match turns.last_mut() {
            _ if blocks.is_empty() => {}
            Some((last, prev)) if *last == role => prev.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let max_tokens = ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(default_max_tokens.into());
    let messages: Vec<Value> =
        turns.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect();
    let mut req = json!({"model": upstream_model, "max_tokens": max_tokens, "messages": messages});
    if !system.is_empty() {
        req["system"] = system.join("\n\n").into();
    }
    // Recent Claude models reject requests setting both (400), and Anthropic advises altering only one.
    if let Some(t) = body.get("temperature").and_then(Value::as_f64) {
        req["temperature"] = t.clamp(0.0, 1.0).into();
    } else if let Some(p) = body.get("top_p").and_then(Value::as_f64) {
        req["top_p"] = p.into();
    }
    let stop: Vec<&str> = match body.get("stop") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !stop.is_empty() {
        req["stop_sequences"] = stop.into();
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        req["stream"] = true.into();
    }
    let tools = match body.get("tools").and_then(Value::as_array) {
        Some(tools) => tools.iter().map(tool_definition).collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    // Anthropic refuses a tool_choice without tools, so both go together.
    if !tools.is_empty() {
        req["tools"] = tools.into();
        let mut choice = match body.get("tool_choice").unwrap_or(&Value::Null) {
            Value::Null => json!({"type": "auto"}),
            Value::String(s) => match s.as_str() {
                "auto" => json!({"type": "auto"}),
                "none" => json!({"type": "none"}),
                "required" => json!({"type": "any"}),
                other => return Err(format!("unsupported tool_choice `{other}`")),
            },
            c => json!({"type": "tool", "name": c["function"]["name"].as_str().ok_or("tool_choice without name")?}),
        };
        if body.get("parallel_tool_calls").and_then(Value::as_bool) == Some(false) && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = true.into();
        }
        req["tool_choice"] = choice;
    }
    Ok(req)
}

/// Anthropic content blocks for OpenAI message content (string, parts or null); empty texts are dropped
/// because Anthropic rejects empty text blocks.
fn content_blocks(content: &Value) -> Result<Vec<Value>, String> {
    let text_block = |t: &str| (!t.is_empty()).then(|| json!({"type": "text", "text": t}));
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(text_block(s).into_iter().collect()),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| match part["type"].as_str().unwrap_or_default() {
                "text" => text_block(part["text"].as_str().unwrap_or_default()).map(Ok),
                "refusal" => text_block(part["refusal"].as_str().unwrap_or_default()).map(Ok),
                "image_url" => Some(image_block(part)),
                other => Some(Err(format!("unsupported content part type `{other}`"))),
            })
            .collect(),
        _ => Err("message content must be a string or an array of parts".into()),
    }
}

fn image_block(part: &Value) -> Result<Value, String> {
    let url = part["image_url"]["url"].as_str().or(part["image_url"].as_str()).ok_or("image_url part without url")?;
    let source = if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or("malformed data: URL")?;
        let media_type = meta.strip_suffix(";base64").ok_or("image data: URL must be base64")?;
        json!({"type": "base64", "media_type": media_type, "data": data})
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({"type": "url", "url": url})
    } else {
        return Err("image URL must be a data: or http(s) URL".into());
    };
    Ok(json!({"type": "image", "source": source}))
}

fn assistant_blocks(msg: &Value) -> Result<Vec<Value>, String> {
    let mut blocks = content_blocks(msg.get("content").unwrap_or(&Value::Null))?;
    for call in msg["tool_calls"].as_array().into_iter().flatten() {
        let name = call["function"]["name"].as_str().ok_or("tool call without function.name")?;
        let args = call["function"]["arguments"].as_str().unwrap_or_default();
        // Models sometimes send "" for a function without parameters.
        let input: Value = if args.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(args).map_err(|e| format!("arguments of tool call `{name}` are not JSON: {e}"))?
        };
        if !input.is_object() {
            return Err(format!("arguments of tool call `{name}` are not a JSON object"));
        }
        blocks.push(json!({"type": "tool_use", "id": call["id"], "name": name, "input": input}));
    }
    Ok(blocks)
}

fn tool_result(msg: &Value) -> Result<Value, String> {
    let id = msg["tool_call_id"].as_str().ok_or("tool message without tool_call_id")?;
    let content = match &msg["content"] {
        Value::String(s) => Value::String(s.clone()),
        c => content_blocks(c)?.into(),
    };
    Ok(json!({"type": "tool_result", "tool_use_id": id, "content": content}))
}

fn tool_definition(tool: &Value) -> Result<Value, String> {
    if tool["type"].as_str().is_some_and(|t| t != "function") {
        return Err(format!("unsupported tool type `{}`", tool["type"]));
    }
    let f = &tool["function"];
    let name = f["name"].as_str().ok_or("function tool without name")?;
    let schema = f.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object", "properties": {}}));
    let mut def = json!({"name": name, "input_schema": schema});
    if let Some(d) = f["description"].as_str() {
        def["description"] = d.into();
    }
    Ok(def)
}

pub(super) fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// OpenAI's prompt_tokens include cached tokens, while Anthropic's input_tokens exclude cache reads and writes.
pub(super) fn prompt_tokens(usage: &Value) -> u64 {
    ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"]
        .iter()
        .filter_map(|k| usage[*k].as_u64())
        .sum()
}

/// The OpenAI `chat.completion` for a Messages response. `model` is what the client asked for (echoed).
/// text blocks -> content (joined), tool_use -> tool_calls (arguments = compact JSON of input), stop_reason ->
/// finish_reason; cache_read_input_tokens -> prompt_tokens_details.cached_tokens when present.
pub fn chat_completion(resp: &Value, id: &str, created: i64, model: &str) -> Result<Value, String> {
    let blocks = resp.get("content").and_then(Value::as_array).ok_or("Anthropic response without content")?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in blocks {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(json!({"id": block["id"], "type": "function", "function": {
                "name": block["name"],
                "arguments": block.get("input").map_or_else(|| "{}".to_owned(), Value::to_string),
            }})),
            _ => {} // thinking and server-tool blocks have no chat-completions counterpart
        }
    }
    let mut message = json!({"role": "assistant", "content": (!text.is_empty()).then_some(text), "refusal": null});
    if !calls.is_empty() {
        message["tool_calls"] = calls.into();
    }
    let u = &resp["usage"];
    let (prompt, completion) = (prompt_tokens(u), u["output_tokens"].as_u64().unwrap_or(0));
    let mut usage =
        json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    if let Some(cached) = u["cache_read_input_tokens"].as_u64() {
        usage["prompt_tokens_details"] = json!({"cached_tokens": cached});
    }
    Ok(json!({
        "id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null,
            "finish_reason": finish_reason(resp["stop_reason"].as_str())}],
        "usage": usage,
    }))
}

/// The error message in an Anthropic error body ({"type":"error","error":{"type","message"}}), if it has one.
pub fn error_message(body: &Value) -> Option<String> {
    body["error"]["message"].as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(content: Value) -> Value {
        json!({"messages": [{"role": "user", "content": content}]})
    }

    #[test]
    fn system_merge_params_and_same_role_merge() {
        let body = json!({
            "model": "claude", "stream": true, "temperature": 1.7, "top_p": 0.9, "stop": "END", "seed": 7,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                {"role": "user", "content": "Bonjour"},
                {"role": "user", "content": [{"type": "text", "text": "Ça va ?"}]},
                {"role": "assistant", "content": ""},
            ],
        });
        let expected = json!({
            "model": "claude-x", "max_tokens": 4096, "system": "Be brief.\n\nUse French.",
            "temperature": 1.0, "stop_sequences": ["END"], "stream": true,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "Bonjour"}, {"type": "text", "text": "Ça va ?"}]}],
        });
        assert_eq!(messages_request(&body, "claude-x", 4096), Ok(expected));

        let mut body = user(json!("hi"));
        body["max_tokens"] = json!(10);
        body["max_completion_tokens"] = json!(20);
        body["stop"] = json!(["a", "b"]);
        body["top_p"] = json!(0.5);
        let req = messages_request(&body, "m", 4096).unwrap();
        assert_eq!(
            (&req["max_tokens"], &req["stop_sequences"], &req["top_p"]),
            (&json!(20), &json!(["a", "b"]), &json!(0.5))
        );
        assert!(req.get("system").is_none() && req.get("stream").is_none() && req.get("tools").is_none());
        assert!(messages_request(&json!({"messages": [{"role": "function", "content": "x"}]}), "m", 1).is_err());
        assert!(messages_request(&json!({"model": "m"}), "m", 1).is_err());
    }

    #[test]
    fn images() {
        let body = user(json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
        ]));
        let req = messages_request(&body, "m", 1).unwrap();
        let expected = json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        ]);
        assert_eq!(req["messages"][0]["content"], expected);
        for url in ["ftp://x/y.png", "data:image/png,raw", "data:image/png;base64"] {
            let body = user(json!([{"type": "image_url", "image_url": {"url": url}}]));
            assert!(messages_request(&body, "m", 1).is_err(), "{url}");
        }
        let audio = user(json!([{"type": "input_audio", "input_audio": {}}]));
        assert!(messages_request(&audio, "m", 1).unwrap_err().contains("input_audio"));
    }

    #[test]
    fn tool_round_trip_and_tool_result_merging() {
        let weather_schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
        let body = json!({
            "tools": [
                {"type": "function",
                    "function": {"name": "weather", "description": "Weather", "parameters": weather_schema}},
                {"type": "function", "function": {"name": "now"}},
            ],
            "tool_choice": "required",
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                        "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}},
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
                {"role": "user", "content": "Thanks"},
            ],
        });
        let req = messages_request(&body, "m", 1).unwrap();
        let tools = json!([
            {"name": "weather", "description": "Weather", "input_schema": weather_schema},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ]);
        assert_eq!(req["tools"], tools);
        assert_eq!(req["tool_choice"], json!({"type": "any"}));
        let messages = json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "now", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
                {"type": "text", "text": "Thanks"},
            ]},
        ]);
        assert_eq!(req["messages"], messages);

        let with = |choice: Value, parallel: Value| {
            let mut b = body.clone();
            (b["tool_choice"], b["parallel_tool_calls"]) = (choice, parallel);
            messages_request(&b, "m", 1).map(|r| r["tool_choice"].clone())
        };
        assert_eq!(with(Value::Null, Value::Null), Ok(json!({"type": "auto"})));
        assert_eq!(with(json!("none"), json!(false)), Ok(json!({"type": "none"})));
        assert_eq!(with(json!("auto"), json!(false)), Ok(json!({"type": "auto", "disable_parallel_tool_use": true})));
        let named = json!({"type": "function", "function": {"name": "now"}});
        assert_eq!(with(named, Value::Null), Ok(json!({"type": "tool", "name": "now"})));
        assert!(with(json!("sometimes"), Value::Null).is_err());

        let mut bad = body.clone();
        bad["messages"][1]["tool_calls"][0]["function"]["arguments"] = json!("{\"city\":");
        assert!(messages_request(&bad, "m", 1).unwrap_err().contains("weather"));
        bad["messages"][1]["tool_calls"][0]["function"]["arguments"] = json!("[1]");
        assert!(messages_request(&bad, "m", 1).is_err());
    }

    #[test]
    fn completion_from_responses() {
        let resp = json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "end_turn",
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}],
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 100},
        });
        let expected = json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "Hello world", "refusal": null}}],
            "usage": {"prompt_tokens": 110, "completion_tokens": 5, "total_tokens": 115,
                "prompt_tokens_details": {"cached_tokens": 100}},
        });
        assert_eq!(chat_completion(&resp, "chatcmpl-1", 1700000000, "gpt-4o"), Ok(expected));

        let resp = json!({
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 30},
        });
        let out = chat_completion(&resp, "c", 0, "m").unwrap();
        let call = json!({"id": "toolu_1", "type": "function",
            "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}});
        assert_eq!(
            out["choices"][0]["message"],
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [call]})
        );
        assert_eq!(out["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out["usage"], json!({"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50}));

        let truncated = json!({"content": [{"type": "text", "text": "Hel"}], "stop_reason": "max_tokens"});
        assert_eq!(chat_completion(&truncated, "c", 0, "m").unwrap()["choices"][0]["finish_reason"], "length");
        assert!(chat_completion(&json!({"type": "error"}), "c", 0, "m").is_err());
    }

    #[test]
    fn errors() {
        let body = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        assert_eq!(error_message(&body), Some("Overloaded".to_owned()));
        assert_eq!(error_message(&json!({"message": "flat"})), None);
        assert_eq!(error_message(&json!("text")), None);
    }
}
