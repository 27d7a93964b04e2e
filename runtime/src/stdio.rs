//! Bounded capture of a guest's stdout and stderr.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Keeps the first `capacity` bytes written and silently drops the rest: the guest always
/// sees its writes succeed (so `println!` never panics), the host never holds more.
#[derive(Clone)]
pub(crate) struct CappedOutput {
    capacity: usize,
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CappedOutput {
    pub(crate) fn new(capacity: usize) -> Self {
        CappedOutput { capacity, buffer: Arc::default() }
    }

    /// What was kept, with invalid UTF-8 (e.g. a character cut at the limit) replaced.
    pub(crate) fn contents(&self) -> String {
        let buffer = self.buffer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&buffer).into_owned()
    }

    fn keep(&self, bytes: &[u8]) {
        let mut buffer = self.buffer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let room = self.capacity.saturating_sub(buffer.len());
        buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CappedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.keep(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn keeps_the_first_bytes_and_accepts_the_rest() {
        let out = CappedOutput::new(5);
        let mut writer = out.clone();
        writer.write_all(b"hello world").await.unwrap();
        writer.write_all(b"more").await.unwrap();
        assert_eq!(out.contents(), "hello");
    }
}
