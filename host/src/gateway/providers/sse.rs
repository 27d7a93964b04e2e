//! Server-sent events read off an upstream's response body, one event at a time.

/// One event: its `event:` name (empty when it has none) and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

pub struct SseReader {
    body: reqwest::Response,
    buf: Vec<u8>,
}

impl SseReader {
    pub fn new(body: reqwest::Response) -> SseReader {
        SseReader { body, buf: Vec::new() }
    }

    /// The next event; none when the body ended.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, reqwest::Error> {
        loop {
            if let Some(event) = take_event(&mut self.buf) {
                if event.data.is_empty() && event.event.is_empty() {
                    continue;
                }
                return Ok(Some(event));
            }
            match self.body.chunk().await? {
                Some(bytes) => self.buf.extend_from_slice(&bytes),
                None if self.buf.iter().all(u8::is_ascii_whitespace) => return Ok(None),
                // A last event without its blank line.
                None => {
                    self.buf.extend_from_slice(b"\n\n");
                }
            }
        }
    }
}

/// Removes the first complete event (up to a blank line) from `buf`.
fn take_event(buf: &mut Vec<u8>) -> Option<SseEvent> {
    let end = (0..buf.len()).find_map(|i| {
        if buf[i..].starts_with(b"\n\n") {
            Some((i, 2))
        } else if buf[i..].starts_with(b"\r\n\r\n") {
            Some((i, 4))
        } else {
            None
        }
    })?;
    let block: Vec<u8> = buf.drain(..end.0 + end.1).collect();
    let text = String::from_utf8_lossy(&block[..end.0]);
    let mut event = SseEvent { event: String::new(), data: String::new() };
    for line in text.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event.event = value.to_string(),
            "data" => {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(value);
            }
            _ => {}
        }
    }
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_split_on_blank_lines() {
        let mut buf =
            b": comment\n\nevent: message_start\ndata: {\"a\":1}\n\ndata: x\ndata: y\r\n\r\ndata: [DO".to_vec();
        assert_eq!(take_event(&mut buf).unwrap().data, "");
        let e = take_event(&mut buf).unwrap();
        assert_eq!((e.event.as_str(), e.data.as_str()), ("message_start", "{\"a\":1}"));
        assert_eq!(take_event(&mut buf).unwrap().data, "x\ny");
        assert!(take_event(&mut buf).is_none());
        assert_eq!(buf, b"data: [DO");
    }
}
