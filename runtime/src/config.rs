//! What the operator configures once (`RuntimeConfig`) and what each execution gets
//! (`Limits`, `Grants`).

use std::path::PathBuf;
use std::time::Duration;

const MIB: usize = 1 << 20;
const KIB: usize = 1 << 10;

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Compiled artifacts on disk: `<cache_dir>/<digest>-<engine compatibility hash>.cwasm`.
    pub cache_dir: PathBuf,
    /// Executions running at once; also sizes the pooling allocator.
    pub max_concurrent: u32,
    /// How long an execution waits for a free slot before `ExecError::Busy`.
    pub queue_timeout: Duration,
    /// Upper bound of any execution's linear memory (the pool's slot size); components whose
    /// memory starts larger are refused at `inspect`.
    pub max_memory_bytes: usize,
    /// Largest component accepted, in bytes.
    pub max_component_bytes: usize,
    /// Approximate memory kept for prepared components; least recently used ones are
    /// dropped past it and reloaded from their artifact on demand.
    pub prepared_cache_bytes: usize,
    /// Disk kept for compiled artifacts; least recently used ones are removed past it.
    pub artifact_cache_bytes: u64,
}

impl RuntimeConfig {
    /// A configuration with the defaults the host uses, caching under `cache_dir`.
    pub fn new(cache_dir: PathBuf) -> Self {
        RuntimeConfig {
            cache_dir,
            max_concurrent: 64,
            queue_timeout: Duration::from_secs(10),
            max_memory_bytes: 64 * MIB,
            max_component_bytes: 20 * MIB,
            prepared_cache_bytes: 256 * MIB,
            artifact_cache_bytes: 1 << 30,
        }
    }
}

/// Per-execution limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Fuel (roughly: wasm instructions) the execution may consume.
    pub fuel: u64,
    /// Wall-clock time for instantiation plus the call, host calls included.
    pub timeout: Duration,
    /// Largest size any one linear memory may grow to.
    pub memory_bytes: usize,
    /// Largest result (output string) accepted back from the guest.
    pub max_output_bytes: usize,
    /// Total bytes of log messages kept; later lines are dropped.
    pub max_log_bytes: usize,
    /// Bytes of stdout and of stderr kept, each; the rest is dropped.
    pub max_stdio_bytes: usize,
    /// Longest a single host call (kv, http) may take.
    pub host_call_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 2_000_000_000,
            timeout: Duration::from_secs(5),
            memory_bytes: 64 * MIB,
            max_output_bytes: MIB,
            max_log_bytes: 64 * KIB,
            max_stdio_bytes: 64 * KIB,
            host_call_timeout: Duration::from_secs(10),
        }
    }
}

/// The capabilities a component may use beyond `log`. The default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub kv: bool,
    /// Exact host names, or `*.example.com` for any subdomain of example.com.
    pub http_hosts: Vec<String>,
    /// Operator setting: allow loopback, private and link-local targets.
    pub allow_private_http: bool,
    /// `skills.call`: licensed skills, paid by the component's agent.
    pub skills: bool,
    /// `marketplace.hire`: hiring agents, paid by the component's agent.
    pub marketplace: bool,
    /// `llm.chat`: the host's model gateway, paid from the run's budget.
    pub llm: bool,
    /// `messaging.send`: messages from the component's agent.
    pub messaging: bool,
}
