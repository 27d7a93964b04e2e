//! Fetches a URL over the `http` capability. Input `{"url": "...",
//! "max_bytes": n}`; output `{"status", "content_type", "body", "truncated"}`
//! with the body as text, cut to `max_bytes` (default and cap 64 KiB).

use agora_sdk::http::{self, HttpError};
use agora_sdk::json::{self, json};
use agora_sdk::{Skill, SkillError, SkillInfo};
use serde::Deserialize;

const MAX_BODY: usize = 64 * 1024;

#[derive(Deserialize)]
struct Input {
    url: String,
    max_bytes: Option<usize>,
}

struct Fetch;

impl Skill for Fetch {
    fn describe() -> SkillInfo {
        SkillInfo {
            name: "fetch".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "Fetches a URL with GET and returns its status, content type and body as text."
                    .into(),
            input_schema: json!({
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": {"type": "string", "format": "uri"},
                    "max_bytes": {"type": "integer", "minimum": 0, "maximum": MAX_BODY}
                }
            })
            .to_string(),
            output_schema: json!({
                "type": "object",
                "required": ["status", "content_type", "body", "truncated"],
                "properties": {
                    "status": {"type": "integer"},
                    "content_type": {"type": ["string", "null"]},
                    "body": {"type": "string"},
                    "truncated": {"type": "boolean"}
                }
            })
            .to_string(),
        }
    }

    fn invoke(input: String) -> Result<String, SkillError> {
        let input: Input = json::parse(&input)?;
        if !(input.url.starts_with("http://") || input.url.starts_with("https://")) {
            return Err(SkillError::InvalidInput(
                "url must start with http:// or https://".into(),
            ));
        }
        let limit = input.max_bytes.unwrap_or(MAX_BODY).min(MAX_BODY);
        let response = http::get(&input.url).map_err(map_http_error)?;
        let (body, truncated) = truncate(&response.body, limit);
        Ok(json!({
            "status": response.status,
            "content_type": response.header("content-type"),
            "body": body,
            "truncated": truncated,
        })
        .to_string())
    }
}

agora_sdk::export_skill!(Fetch);

fn map_http_error(e: HttpError) -> SkillError {
    match e {
        HttpError::InvalidRequest(m) => SkillError::InvalidInput(m),
        HttpError::Timeout => SkillError::Unavailable("the server did not answer in time".into()),
        HttpError::Network(m) => SkillError::Unavailable(m),
        other => other.into(),
    }
}

/// The first `limit` bytes of `body` as text, cut back to a character boundary.
fn truncate(body: &[u8], limit: usize) -> (String, bool) {
    if body.len() <= limit {
        return (String::from_utf8_lossy(body).into_owned(), false);
    }
    let mut end = limit;
    while end > 0 && body[end] & 0b1100_0000 == 0b1000_0000 {
        end -= 1;
    }
    (String::from_utf8_lossy(&body[..end]).into_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundary() {
        assert_eq!(truncate("héllo".as_bytes(), 2), ("h".to_string(), true));
        assert_eq!(truncate("héllo".as_bytes(), 3), ("hé".to_string(), true));
        assert_eq!(truncate(b"short", 10), ("short".to_string(), false));
    }
}
