//! Anthropic's Messages stream, translated into OpenAI chat-completion chunks.

use serde_json::{json, Value};

use super::anthropic::{error_message, finish_reason, prompt_tokens};

/// Turns Anthropic stream events into OpenAI chunks, one event at a time.
pub struct StreamTranslator {
    id: String,
    created: i64,
    model: String,
    started: bool,
    /// Anthropic content-block index of each tool_use block; the position is the OpenAI tool call index.
    tool_blocks: Vec<u64>,
    /// (prompt_tokens, completion_tokens)
    usage: (u64, u64),
    finished: bool,
}

impl StreamTranslator {
    pub fn new(id: &str, created: i64, model: &str) -> Self {
        let (id, model) = (id.to_owned(), model.to_owned());
        StreamTranslator { id, created, model, started: false, finished: false, tool_blocks: Vec::new(), usage: (0, 0) }
    }

    /// `event` is the SSE `event:` name (if empty, `data["type"]` is used), `data` the parsed JSON. Returns the
    /// `chat.completion.chunk`s to send for it (possibly none): the role chunk first, then text and tool_calls
    /// deltas, and for message_delta an empty delta with finish_reason. An `error` event is Err(message).
    pub fn event(&mut self, event: &str, data: &Value) -> Result<Vec<Value>, String> {
        let kind = if event.is_empty() { data["type"].as_str().unwrap_or_default() } else { event };
        let mut out = Vec::new();
        match kind {
            "message_start" => {
                let u = &data["message"]["usage"];
                self.usage = (prompt_tokens(u), u["output_tokens"].as_u64().unwrap_or(0));
                self.push(&mut out, None, None);
            }
            "content_block_start" => {
                let block = &data["content_block"];
                match block["type"].as_str() {
                    Some("tool_use") => {
                        let index = self.tool_blocks.len();
                        self.tool_blocks.push(data["index"].as_u64().unwrap_or(u64::MAX));
                        let call = json!({"index": index, "id": block["id"], "type": "function",
                            "function": {"name": block["name"], "arguments": ""}});
                        self.push(&mut out, Some(json!({"tool_calls": [call]})), None);
                    }
                    Some("text") => self.push_text(&mut out, &block["text"]),
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => self.push_text(&mut out, &delta["text"]),
                    Some("input_json_delta") => {
                        let fragment = delta["partial_json"].as_str().unwrap_or_default();
                        let index = self.tool_blocks.iter().position(|b| Some(*b) == data["index"].as_u64());
                        if let (Some(index), false) = (index, fragment.is_empty()) {
                            let call = json!({"index": index, "function": {"arguments": fragment}});
                            self.push(&mut out, Some(json!({"tool_calls": [call]})), None);
                        }
                    }
                    _ => {} // thinking_delta, signature_delta, citations
                }
            }
            "message_delta" => {
                let u = &data["usage"];
                // Newer API versions repeat the (cumulative) input counts here.
                if u.get("input_tokens").is_some() {
                    self.usage.0 = prompt_tokens(u);
                }
                self.usage.1 = u["output_tokens"].as_u64().unwrap_or(self.usage.1);
                let reason = finish_reason(data["delta"]["stop_reason"].as_str());
                self.push(&mut out, Some(json!({})), Some(reason));
            }
            "message_stop" => self.finished = true,
            "error" => return Err(error_message(data).unwrap_or_else(|| "Anthropic stream error".to_owned())),
            _ => {} // ping, content_block_stop and event types added later
        }
        Ok(out)
    }

    fn push_text(&mut self, out: &mut Vec<Value>, text: &Value) {
        if let Some(t) = text.as_str().filter(|t| !t.is_empty()) {
            self.push(out, Some(json!({"content": t})), None);
        }
    }

    /// Appends a chunk, preceded by the role chunk if none was sent yet; `delta: None` sends only the latter.
    fn push(&mut self, out: &mut Vec<Value>, delta: Option<Value>, finish: Option<&str>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
        if let Some(delta) = delta {
            out.push(self.chunk(delta, finish));
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    }

    /// (prompt_tokens, completion_tokens) seen so far (from message_start and message_delta).
    pub fn usage(&self) -> (u64, u64) {
        self.usage
    }

    /// True once message_stop was seen.
    pub fn finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: &mut StreamTranslator, events: &[Value]) -> Vec<Value> {
        events.iter().flat_map(|e| t.event(e["type"].as_str().unwrap(), e).unwrap()).collect()
    }

    fn message_start(input_tokens: u64) -> Value {
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "content": [], "model": "claude-x", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1}}})
    }

    fn block_start(index: u64, block: Value) -> Value {
        json!({"type": "content_block_start", "index": index, "content_block": block})
    }

    fn block_delta(index: u64, delta: Value) -> Value {
        json!({"type": "content_block_delta", "index": index, "delta": delta})
    }

    #[test]
    fn stream_text_answer() {
        let mut t = StreamTranslator::new("chatcmpl-9", 42, "gpt-4o");
        let events = [
            message_start(25),
            block_start(0, json!({"type": "text", "text": ""})),
            json!({"type": "ping"}),
            block_delta(0, json!({"type": "text_delta", "text": "Hello"})),
            block_delta(0, json!({"type": "text_delta", "text": "!"})),
            json!({"type": "content_block_stop", "index": 0}),
        ];
        let chunks = run(&mut t, &events);
        assert_eq!((t.finished(), t.usage()), (false, (25, 1)));
        let first = json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 42, "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                "logprobs": null, "finish_reason": null}]});
        assert_eq!(chunks[0], first);
        let deltas: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["delta"]).collect();
        assert_eq!(deltas[1..], [&json!({"content": "Hello"}), &json!({"content": "!"})]);

        // An empty event name falls back to data["type"].
        let md = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 12}});
        let last = t.event("", &md).unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0]["choices"][0]["delta"], json!({}));
        assert_eq!(last[0]["choices"][0]["finish_reason"], "stop");
        assert!(t.event("message_stop", &json!({"type": "message_stop"})).unwrap().is_empty());
        assert_eq!((t.finished(), t.usage()), (true, (25, 12)));
    }

    #[test]
    fn stream_tool_use_answer() {
        let mut t = StreamTranslator::new("c", 1, "m");
        let tool = |id: &str, name: &str| json!({"type": "tool_use", "id": id, "name": name, "input": {}});
        let args = |s: &str| json!({"type": "input_json_delta", "partial_json": s});
        let events = [
            message_start(400),
            block_start(0, json!({"type": "text", "text": ""})),
            block_delta(0, json!({"type": "text_delta", "text": "Let me check."})),
            json!({"type": "content_block_stop", "index": 0}),
            block_start(1, tool("toolu_a", "weather")),
            block_delta(1, args("")),
            block_delta(1, args("{\"city\": ")),
            block_delta(1, args("\"Paris\"}")),
            json!({"type": "content_block_stop", "index": 1}),
            block_start(2, tool("toolu_b", "now")),
            block_delta(2, args("{}")),
            json!({"type": "content_block_stop", "index": 2}),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 89}}),
            json!({"type": "message_stop"}),
        ];
        let chunks = run(&mut t, &events);
        let call_start = |index: u64, id: &str, name: &str| {
            json!({"tool_calls": [{"index": index, "id": id, "type": "function",
                "function": {"name": name, "arguments": ""}}]})
        };
        let call_args = |index: u64, s: &str| json!({"tool_calls": [{"index": index, "function": {"arguments": s}}]});
        let expected = [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Let me check."}),
            call_start(0, "toolu_a", "weather"),
            call_args(0, "{\"city\": "),
            call_args(0, "\"Paris\"}"),
            call_start(1, "toolu_b", "now"),
            call_args(1, "{}"),
            json!({}),
        ];
        let deltas: Vec<Value> = chunks.iter().map(|c| c["choices"][0]["delta"].clone()).collect();
        assert_eq!(deltas, expected);
        let finish: Vec<&Value> = chunks.iter().map(|c| &c["choices"][0]["finish_reason"]).collect();
        assert_eq!(finish[6..], [&Value::Null, &json!("tool_calls")]);
        assert!(finish[..6].iter().all(|f| f.is_null()));
        assert_eq!((t.finished(), t.usage()), (true, (400, 89)));
    }

    #[test]
    fn error_events_end_the_stream_with_their_message() {
        let body = json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
        let mut t = StreamTranslator::new("c", 1, "m");
        assert_eq!(t.event("message_start", &message_start(5)).unwrap().len(), 1);
        assert_eq!(t.event("error", &body), Err("Overloaded".to_owned()));
        assert_eq!(t.event("", &json!({"type": "error"})), Err("Anthropic stream error".to_owned()));
        assert!(!t.finished());
    }
}
