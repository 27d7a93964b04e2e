//! Agents' key-value data, behind the runtime's `kv` capability.

pub mod capability;
pub mod store;
