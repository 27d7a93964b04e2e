//! What an execution hands back: its result plus what it used and printed.

/// The outcome of one execution. `usage`, `logs`, `stdout` and `stderr` are filled in
/// whatever the result, so that failed executions can be billed and debugged too.
#[derive(Debug, Clone)]
pub struct Execution<T> {
    pub result: Result<T, ExecError>,
    pub usage: Usage,
    pub logs: Vec<LogEntry>,
    /// Captured stdout, up to `Limits::max_stdio_bytes` (invalid UTF-8 replaced).
    pub stdout: String,
    /// Captured stderr, up to `Limits::max_stdio_bytes` (invalid UTF-8 replaced).
    pub stderr: String,
}

impl<T> Execution<T> {
    /// An execution that ended before the guest ran.
    pub(crate) fn refused(error: ExecError) -> Self {
        Execution {
            result: Err(error),
            usage: Usage::default(),
            logs: Vec::new(),
            stdout: String::new(),
            stderr: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Fuel consumed.
    pub fuel: u64,
    /// Wall time from the start of instantiation to the end of the call.
    pub wall_ms: u64,
    /// Peak size of the largest linear memory.
    pub memory_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// "trace", "debug", "info", "warn" or "error".
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("the execution ran out of time")]
    Timeout,
    #[error("the execution ran out of fuel")]
    OutOfFuel,
    #[error("the execution reached its memory limit")]
    MemoryLimit,
    #[error("the component trapped: {0}")]
    Trap(String),
    #[error("the result is larger than the output limit")]
    OutputTooLarge,
    /// The guest called a capability it was not granted (see `Runtime` docs).
    #[error("capability denied: {0}")]
    CapabilityDenied(String),
    /// The guest returned its typed error: the WIT variant name (e.g. `invalid-input`) and message.
    #[error("{kind}: {message}")]
    Guest { kind: String, message: String },
    #[error("all execution slots are busy")]
    Busy,
    #[error("the component is not prepared (for this kind)")]
    NotPrepared,
}

impl ExecError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ExecError::Timeout => "timeout",
            ExecError::OutOfFuel => "out_of_fuel",
            ExecError::MemoryLimit => "memory_limit",
            ExecError::Trap(_) => "trap",
            ExecError::OutputTooLarge => "output_too_large",
            ExecError::CapabilityDenied(_) => "capability_denied",
            ExecError::Guest { .. } => "guest_error",
            ExecError::Busy => "busy",
            ExecError::NotPrepared => "not_prepared",
        }
    }
}
