//! Everything one execution needs from its caller besides the call's own arguments.

use super::config::{Grants, Limits};
use super::kv::KvStore;
use super::nested::NestedCalls;
use std::fmt;
use std::sync::Arc;

#[derive(Clone)]
pub struct Invocation {
    /// The `kv` namespace (one per agent).
    pub namespace: String,
    pub grants: Grants,
    pub limits: Limits,
    pub kv: Arc<dyn KvStore>,
    /// Serves `skills.call` and `marketplace.hire`; none answers them `unavailable`.
    pub nested: Option<Arc<dyn NestedCalls>>,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation")
            .field("namespace", &self.namespace)
            .field("grants", &self.grants)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
