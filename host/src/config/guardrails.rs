//! The action guardrails' settings.

use serde::{Deserialize, Serialize};

use super::sections::{within, Check};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Guardrails {
    /// Whether the host checks its own actions (executions, hires, skill calls, task posts,
    /// withdrawals, publishing) against the policies before they happen.
    pub guardrails_enforce: bool,
    /// The decision when no operator policy matches an action: `allow`, `require_approval` or
    /// `deny`. An account's own policies can make it stricter, never looser.
    pub guardrails_default_decision: String,
    /// How long an approval waits for its decision; a later decision is refused.
    pub guardrails_approval_ttl_ms: u64,
    /// What one decision of a policy module may burn, take and use; past it the module has
    /// failed (deny, unless its policy fails open).
    pub guardrails_module_fuel: u64,
    pub guardrails_module_timeout_ms: u64,
    pub guardrails_module_memory_bytes: u64,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            guardrails_enforce: true,
            guardrails_default_decision: "allow".into(),
            guardrails_approval_ttl_ms: 86_400_000,
            guardrails_module_fuel: 20_000_000,
            guardrails_module_timeout_ms: 100,
            guardrails_module_memory_bytes: 16 << 20,
        }
    }
}

impl Guardrails {
    pub(super) fn check(&self) -> Check {
        if !matches!(self.guardrails_default_decision.as_str(), "allow" | "require_approval" | "deny") {
            return Err("guardrails_default_decision must be allow, require_approval or deny".into());
        }
        within("guardrails_module_fuel", self.guardrails_module_fuel, 100_000, 10_000_000_000)?;
        within("guardrails_module_timeout_ms", self.guardrails_module_timeout_ms, 1, 10_000)?;
        within("guardrails_module_memory_bytes", self.guardrails_module_memory_bytes, 1 << 20, 1 << 30)?;
        within("guardrails_approval_ttl_ms", self.guardrails_approval_ttl_ms, 1_000, 31_536_000_000)
    }
}
