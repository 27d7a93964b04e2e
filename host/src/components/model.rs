use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::rfc3339;

/// What a component asks to be granted. The host grants exactly this when it runs it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Capabilities {
    /// A per-agent key-value store.
    #[serde(default)]
    pub kv: bool,
    /// Hosts it may call over HTTP(S): exact names or `*.example.com`.
    #[serde(default)]
    pub http: Vec<String>,
    /// Calls to licensed skills (`skills.call`), paid by the component's agent.
    #[serde(default)]
    pub skills: bool,
    /// Hiring agents (`marketplace.hire`), paid by the component's agent.
    #[serde(default)]
    pub marketplace: bool,
    /// Chat through the host's model gateway (`llm.chat`), paid from the run's budget.
    #[serde(default)]
    pub llm: bool,
    /// Messages from the component's agent (`messaging.send`), under its policies.
    #[serde(default)]
    pub messaging: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishRequest {
    /// `agent`, `skill`, `handler` or `policy`: the WIT world the component implements.
    pub kind: String,
    pub name: String,
    /// Semantic version, e.g. `1.2.0`.
    pub version: String,
    pub description: Option<String>,
    #[serde(default)]
    pub capabilities: Capabilities,
    /// The component's bytes, base64 (standard alphabet).
    pub component: String,
    /// Hex Ed25519 signature over the 32-byte SHA-256 digest of the bytes, by a key registered
    /// with `POST /api/agents/me/signing-keys`.
    pub signature: Option<String>,
    /// An approved guardrail approval for this very publish (`approval_required` named it).
    #[serde(default)]
    pub approval_id: Option<String>,
}

crate::row_struct! {
    #[derive(Debug, Clone)]
    pub struct ComponentRow {
        pub id: String,
        pub publisher_id: String,
        pub publisher_name: String,
        pub kind: String,
        pub name: String,
        pub version: String,
        pub description: String,
        pub digest: String,
        pub size_bytes: i64,
        pub grants: String,
        pub imports: String,
        pub signature: Option<String>,
        pub created_at: i64,
    }
}

pub const COMPONENT_COLUMNS: &str = "c.id, c.publisher_id, a.name AS publisher_name, c.kind, c.name, c.version, \
    c.description, c.digest, c.size_bytes, c.grants, c.imports, c.signature, c.created_at";

#[derive(Debug, Serialize, ToSchema)]
pub struct Publisher {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentView {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub version: String,
    pub description: String,
    /// `sha256:<hex>` of the bytes.
    pub digest: String,
    pub size_bytes: i64,
    /// What the host grants it when it runs.
    pub capabilities: Capabilities,
    /// The interfaces it imports (WASI and Agora capabilities).
    pub imports: Vec<String>,
    pub signed: bool,
    pub publisher: Publisher,
    pub created_at: String,
}

impl ComponentRow {
    pub fn kind(&self) -> Option<agora_runtime::Kind> {
        self.kind.parse().ok()
    }

    pub fn capabilities(&self) -> Capabilities {
        serde_json::from_str(&self.grants).unwrap_or_default()
    }

    pub fn view(&self) -> ComponentView {
        ComponentView {
            id: self.id.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            digest: format!("sha256:{}", self.digest),
            size_bytes: self.size_bytes,
            capabilities: self.capabilities(),
            imports: serde_json::from_str(&self.imports).unwrap_or_default(),
            signed: self.signature.is_some(),
            publisher: Publisher { id: self.publisher_id.clone(), name: self.publisher_name.clone() },
            created_at: rfc3339(self.created_at),
        }
    }
}

/// `MAJOR.MINOR.PATCH` with optional `-prerelease` and `+build`, as semver defines them.
pub fn is_semver(v: &str) -> bool {
    let (core, build) = v.split_once('+').map_or((v, None), |(c, b)| (c, Some(b)));
    let (core, pre) = core.split_once('-').map_or((core, None), |(c, p)| (c, Some(p)));
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    let parts: Vec<&str> = core.split('.').collect();
    let ident_ok = |s: &str| {
        !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(ident_ok)
        && build.is_none_or(ident_ok)
        && v.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::is_semver;

    #[test]
    fn semver() {
        for ok in ["0.1.0", "1.2.3", "10.0.0-beta.1", "1.0.0+build.5", "1.0.0-rc-1+x"] {
            assert!(is_semver(ok), "{ok}");
        }
        for bad in ["", "1", "1.2", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3-", "1.2.3+", "v1.2.3", "1.2.3-a..b"] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
