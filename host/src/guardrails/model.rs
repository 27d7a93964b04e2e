//! Actions, policies and decisions.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

crate::stored_enum! {
    /// What a policy, or a check, decides; ordered from the weakest to the strongest.
    pub enum Effect { Allow => "allow", RequireApproval => "require_approval", Deny => "deny" }
}

impl Effect {
    /// Deny wins over require_approval, which wins over allow.
    pub fn strength(self) -> u8 {
        match self {
            Effect::Allow => 0,
            Effect::RequireApproval => 1,
            Effect::Deny => 2,
        }
    }
}

crate::stored_enum! {
    pub enum Risk { Low => "low", Medium => "medium", High => "high", Critical => "critical" }
}

impl Risk {
    fn rank(self) -> u8 {
        match self {
            Risk::Low => 0,
            Risk::Medium => 1,
            Risk::High => 2,
            Risk::Critical => 3,
        }
    }
}

/// An action an agent is about to take (Tokaroo's check request).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub app: String,
    pub tool_ref: String,
    /// `read`, `write`, `spend`, `communication`, `code`, or another word.
    pub action_type: String,
    pub operation: Option<String>,
    /// `read_only`, `write`, `destructive`, or another word.
    pub access_level: Option<String>,
    /// `low`, `medium`, `high` or `critical`; none counts as `low`.
    pub risk_level: Option<String>,
    pub requested_amount_usd: Option<f64>,
    pub mission_id: Option<String>,
    pub task_id: Option<String>,
    pub actor_ref: Option<String>,
    /// A workspace of the account (a runtime key bound to one always acts in it).
    pub workspace_id: Option<String>,
    pub external_source: Option<String>,
    pub external_id: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Option<Value>,
    /// An approval this action was granted: an approved one lets it through once.
    pub approval_id: Option<String>,
}

impl Action {
    /// What the action does, hashed: an approval lets through only the action it was asked for.
    pub fn fingerprint(&self, agent_id: &str) -> String {
        let amount = self.requested_amount_usd.map(|a| format!("{a:.6}")).unwrap_or_default();
        let parts = [
            agent_id,
            &self.app,
            &self.tool_ref,
            &self.action_type,
            self.operation.as_deref().unwrap_or(""),
            self.access_level.as_deref().unwrap_or(""),
            self.workspace_id.as_deref().unwrap_or(""),
            &amount,
        ];
        let mut hash = Sha256::new();
        for p in parts {
            hash.update((p.len() as u64).to_le_bytes());
            hash.update(p.as_bytes());
        }
        hex::encode(hash.finalize())
    }

    pub fn risk(&self) -> Risk {
        self.risk_level.as_deref().and_then(|r| r.parse().ok()).unwrap_or(Risk::Low)
    }
}

/// When a policy applies: every field set must match the action (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Match {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// Operators' policies only: the acting agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// Exact, or a prefix ending in `*` (`agora.*`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_level: Option<String>,
    /// This risk or higher (`high` matches `high` and `critical`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<String>,
    /// This amount or more (an action without one counts as 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_amount_usd: Option<f64>,
}

impl Match {
    pub fn matches(&self, agent_id: &str, a: &Action) -> bool {
        let same = |want: &Option<String>, got: Option<&str>| want.as_deref().is_none_or(|w| Some(w) == got);
        let tool = self.tool_ref.as_deref().is_none_or(|t| match t.strip_suffix('*') {
            Some(prefix) => a.tool_ref.starts_with(prefix),
            None => t == a.tool_ref,
        });
        let risk =
            self.risk_level.as_deref().and_then(|r| r.parse::<Risk>().ok()).is_none_or(|r| a.risk().rank() >= r.rank());
        tool && risk
            && same(&self.app, Some(&a.app))
            && same(&self.workspace_id, a.workspace_id.as_deref())
            && same(&self.agent_id, Some(agent_id))
            && same(&self.action_type, Some(&a.action_type))
            && same(&self.operation, a.operation.as_deref())
            && same(&self.access_level, a.access_level.as_deref())
            && self.min_amount_usd.is_none_or(|min| a.requested_amount_usd.unwrap_or(0.0) >= min)
    }
}

/// A policy whose effect a `policy` component decides.
#[derive(Debug, Clone)]
pub struct Module {
    pub component_id: String,
    /// Handed to the component with each action (`detail.settings`).
    pub settings: Value,
    /// A module that fails decides `allow` rather than `deny`.
    pub fail_open: bool,
}

/// A stored policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    /// None: an operator's policy.
    pub agent_id: Option<String>,
    pub name: String,
    /// A module policy's is what its module decided for the action at hand (`Deny` until then).
    pub effect: Effect,
    pub module: Option<Module>,
    pub rules: Match,
    pub priority: i64,
    pub enabled: bool,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Policy {
    /// Whether it applies to `agent_id`'s action: enabled, the operator's or that account's, and
    /// its match fits.
    pub fn applies(&self, agent_id: &str, action: &Action) -> bool {
        self.enabled
            && self.agent_id.as_deref().is_none_or(|owner| owner == agent_id)
            && self.rules.matches(agent_id, action)
    }
}

/// What the policies decided for one action.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub effect: Effect,
    /// The policy that decided; none when the operator's default did.
    pub policy_id: Option<String>,
    pub reason: String,
}
