//! The gateway's types: modes, prices, what a chat request needs from a route, and what a
//! request cost. Money here is micro-USD (a millionth of a dollar, a ten-thousandth of a cent):
//! model calls cost fractions of a cent, and the ledger is billed in whole cents as they add up.

use serde_json::Value;

crate::stored_enum! {
    /// Tokaroo's routing modes.
    pub enum Mode { Auto => "auto", Fast => "fast", Max => "max" }
}

crate::stored_enum! {
    /// What a gateway request asked for, as usage records it.
    pub enum RequestType {
        Chat => "chat",
        Embeddings => "embeddings",
        Images => "images",
        Speech => "speech",
        Transcription => "transcription",
        Video => "video"
    }
}

/// Micro-USD in one cent.
pub const MICROS_PER_CENT: i64 = 10_000;

/// A model's price: micro-USD per million tokens in and out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Price {
    pub input: i64,
    pub output: i64,
}

impl Price {
    /// From USD per million tokens as configured (`0.15` is 150,000 micro-USD).
    pub fn from_usd(input_per_1m: f64, output_per_1m: f64) -> Price {
        let micros = |usd: f64| (usd.max(0.0) * 1e6).round() as i64;
        Price { input: micros(input_per_1m), output: micros(output_per_1m) }
    }

    /// What `input` and `output` tokens cost, rounded up to the next micro-USD.
    pub fn cost(&self, input: i64, output: i64) -> i64 {
        let total =
            i128::from(input.max(0)) * i128::from(self.input) + i128::from(output.max(0)) * i128::from(self.output);
        ceil_div(total, 1_000_000).min(i128::from(i64::MAX)) as i64
    }
}

/// `a / b` rounded up, for `a >= 0` and `b > 0`.
pub fn ceil_div(a: i128, b: i128) -> i128 {
    (a + b - 1) / b
}

/// Whole cents covering `micros` (a negative amount is none).
pub fn cents_up(micros: i64) -> i64 {
    ceil_div(i128::from(micros.max(0)), i128::from(MICROS_PER_CENT)) as i64
}

pub fn micros_to_usd(micros: i64) -> f64 {
    micros as f64 / 1e6
}

/// A price with the platform's markup (basis points), rounded up.
pub fn with_markup(cost: i64, markup_bps: u32) -> i64 {
    cost + ceil_div(i128::from(cost.max(0)) * i128::from(markup_bps), 10_000) as i64
}

/// What routing and the reservation need to know of a chat request.
#[derive(Debug, Clone, Default)]
pub struct ChatShape {
    pub stream: bool,
    /// The client asked for the usage chunk at the end of a stream.
    pub include_usage: bool,
    /// The completion tokens asked for (`max_completion_tokens` or `max_tokens`).
    pub max_tokens: Option<i64>,
    /// An upper bound of the prompt's tokens: a token is at least one byte, plus each
    /// message's framing and a high-detail image's worth per image.
    pub prompt_bound: i64,
    pub tools: bool,
    pub vision: bool,
}

/// Tokens an image part may cost at most (high detail, large image).
const IMAGE_TOKENS: i64 = 1_600;
/// The framing tokens around each message.
const MESSAGE_TOKENS: i64 = 8;

impl ChatShape {
    /// Reads `messages`, `stream`, `stream_options`, `max_tokens` and `tools`; refuses what no
    /// upstream could take.
    pub fn of(body: &Value) -> Result<ChatShape, String> {
        let messages = body.get("messages").and_then(Value::as_array).ok_or("messages must be an array")?;
        if messages.is_empty() {
            return Err("messages must not be empty".into());
        }
        let mut shape = ChatShape { prompt_bound: 16, ..Default::default() };
        for message in messages {
            let role = message.get("role").and_then(Value::as_str).ok_or("every message needs a role")?;
            if !["system", "developer", "user", "assistant", "tool"].contains(&role) {
                return Err(format!("unknown message role {role:?}"));
            }
            shape.prompt_bound += MESSAGE_TOKENS + bytes_of(message, &mut shape.vision);
        }
        if let Some(tools) = body.get("tools").filter(|t| !t.is_null()) {
            let tools = tools.as_array().ok_or("tools must be an array")?;
            shape.tools = !tools.is_empty();
            shape.prompt_bound += tools.iter().map(|t| t.to_string().len() as i64).sum::<i64>();
        }
        let max = body.get("max_completion_tokens").filter(|v| !v.is_null()).or(body.get("max_tokens"));
        shape.max_tokens = match max.filter(|v| !v.is_null()) {
            None => None,
            Some(v) => Some(v.as_i64().filter(|n| *n >= 1).ok_or("max_tokens must be a positive integer")?),
        };
        if let Some(t) = body.get("temperature").filter(|v| !v.is_null()) {
            if !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t)) {
                return Err("temperature must be between 0 and 2".into());
            }
        }
        shape.stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        shape.include_usage = body.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
        Ok(shape)
    }
}

/// The bytes of a message's text (a bound of its tokens), noting image parts.
fn bytes_of(message: &Value, vision: &mut bool) -> i64 {
    let mut n = 0;
    match message.get("content") {
        Some(Value::String(text)) => n += text.len() as i64,
        Some(Value::Array(parts)) => {
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("image_url") | Some("input_image") => {
                        *vision = true;
                        n += IMAGE_TOKENS;
                    }
                    _ => n += part.to_string().len() as i64,
                }
            }
        }
        _ => {}
    }
    if let Some(calls) = message.get("tool_calls") {
        n += calls.to_string().len() as i64;
    }
    n
}

/// Tokens in and out, as an upstream reported them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub input: i64,
    pub output: i64,
}

impl Tokens {
    /// From an OpenAI `usage` object.
    pub fn of_usage(usage: &Value) -> Option<Tokens> {
        let input = usage.get("prompt_tokens").and_then(Value::as_i64)?;
        let output = usage.get("completion_tokens").and_then(Value::as_i64).unwrap_or(0);
        Some(Tokens { input, output })
    }

    pub fn usage_json(&self) -> Value {
        serde_json::json!({
            "prompt_tokens": self.input,
            "completion_tokens": self.output,
            "total_tokens": self.input + self.output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prices_are_exact_micro_usd_rounded_up() {
        let mini = Price::from_usd(0.15, 0.6);
        assert_eq!(mini, Price { input: 150_000, output: 600_000 });
        assert_eq!(mini.cost(1_000_000, 0), 150_000);
        assert_eq!(mini.cost(10, 10), 8, "7.5 micro-USD rounds up");
        assert_eq!(mini.cost(0, 0), 0);
        assert_eq!(with_markup(100, 1_000), 110);
        assert_eq!(with_markup(1, 1), 2, "any markup of a positive cost is at least one micro-USD");
    }

    #[test]
    fn the_prompt_bound_is_at_least_the_bytes() {
        let body = json!({"model": "auto", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "image_url", "image_url": {"url": "data:"}}]}
        ], "max_tokens": 50, "stream": true, "stream_options": {"include_usage": true}});
        let shape = ChatShape::of(&body).unwrap();
        assert!(shape.vision && shape.stream && shape.include_usage && !shape.tools);
        assert_eq!(shape.max_tokens, Some(50));
        assert!(shape.prompt_bound >= 8 + 5 + IMAGE_TOKENS);
        assert!(ChatShape::of(&json!({"messages": []})).is_err());
        assert!(ChatShape::of(&json!({"messages": [{"role": "wizard", "content": "x"}]})).is_err());
        assert!(ChatShape::of(&json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})).is_err());
        assert!(ChatShape::of(&json!({"messages": [{"role": "user", "content": "x"}], "temperature": 3})).is_err());
    }
}
