//! The action guardrails' settings.

use serde::{Deserialize, Serialize};

use super::sections::{within, Check};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Guardrails {
    /// The decision when no operator policy matches an action: `allow`, `require_approval` or
    /// `deny`. An account's own policies can make it stricter, never looser.
    pub guardrails_default_decision: String,
    /// How long an approval waits for its decision; a later decision is refused.
    pub guardrails_approval_ttl_ms: u64,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails { guardrails_default_decision: "allow".into(), guardrails_approval_ttl_ms: 86_400_000 }
    }
}

impl Guardrails {
    pub(super) fn check(&self) -> Check {
        if !matches!(self.guardrails_default_decision.as_str(), "allow" | "require_approval" | "deny") {
            return Err("guardrails_default_decision must be allow, require_approval or deny".into());
        }
        within("guardrails_approval_ttl_ms", self.guardrails_approval_ttl_ms, 1_000, 31_536_000_000)
    }
}
