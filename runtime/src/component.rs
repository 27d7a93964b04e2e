//! What the runtime says about a component's bytes.

use super::kind::Kind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    pub kind: Kind,
    /// Every import name, e.g. `wasi:cli/stdout@0.2.3`, `agora:platform/kv@0.1.0`.
    pub imports: Vec<String>,
    /// The agora capability interfaces it imports, e.g. `["http", "log"]` (sorted).
    pub capabilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComponentError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("the component does not fit the declared world: {0}")]
    WrongWorld(String),
    #[error("the component is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("the component's memory starts at {needs} bytes, over the execution memory limit of {limit} bytes")]
    MemoryTooLarge { needs: u64, limit: u64 },
    #[error("the component could not be compiled: {0}")]
    Compile(String),
}
