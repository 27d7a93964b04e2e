//! `agora:platform/log`: always granted; kept in the execution record (bounded) and traced.

use super::Cap;
use crate::bindings::log::{self, Level};
use crate::execution::LogEntry;

/// Longest message kept per line; longer ones are cut (at a character boundary).
const MAX_LINE_BYTES: usize = 4096;

/// The execution's log lines.
pub(crate) type LogCtx = LogBuffer;

impl log::Host for Cap<'_, LogCtx> {
    fn log(&mut self, level: Level, message: String) {
        let message = truncate(message, MAX_LINE_BYTES);
        if !self.ctx.push(level_name(level), &message) {
            return;
        }
        let digest = &*self.call.digest;
        match level {
            Level::Trace => tracing::trace!(target: "agora::guest", digest, "{message}"),
            Level::Debug => tracing::debug!(target: "agora::guest", digest, "{message}"),
            Level::Info => tracing::info!(target: "agora::guest", digest, "{message}"),
            Level::Warn => tracing::warn!(target: "agora::guest", digest, "{message}"),
            Level::Error => tracing::error!(target: "agora::guest", digest, "{message}"),
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace => "trace",
        Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// The lines of one execution's log, up to a total number of message bytes.
pub(crate) struct LogBuffer {
    entries: Vec<LogEntry>,
    bytes: usize,
    max_bytes: usize,
    dropped: usize,
}

impl LogBuffer {
    pub(crate) fn new(max_bytes: usize) -> Self {
        LogBuffer { entries: Vec::new(), bytes: 0, max_bytes, dropped: 0 }
    }

    /// Keeps the line if it fits; returns whether it was kept.
    fn push(&mut self, level: &str, message: &str) -> bool {
        if self.dropped > 0 || self.bytes + message.len() > self.max_bytes {
            self.dropped += 1;
            return false;
        }
        self.bytes += message.len();
        self.entries.push(LogEntry { level: level.to_string(), message: message.to_string() });
        true
    }

    /// The kept lines, followed by a "log truncated" line if any were dropped.
    pub(crate) fn into_entries(mut self) -> Vec<LogEntry> {
        if self.dropped > 0 {
            self.entries.push(LogEntry {
                level: "warn".into(),
                message: format!("log truncated: {} more line(s) dropped past {} bytes", self.dropped, self.max_bytes),
            });
        }
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_lines_past_the_limit_and_says_so() {
        let mut log = LogBuffer::new(10);
        assert!(log.push("info", "12345"));
        assert!(log.push("info", "67890"));
        assert!(!log.push("info", "x"));
        assert!(!log.push("info", ""));
        let entries = log.into_entries();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].level, "warn");
        assert!(entries[2].message.starts_with("log truncated: 2 more"));
    }

    #[test]
    fn truncates_long_lines_on_a_char_boundary() {
        assert_eq!(truncate("héllo".into(), 2), "h");
        assert_eq!(truncate("héllo".into(), 3), "hé");
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
