//! The four kinds of component, one per WIT world.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Agent,
    Skill,
    Handler,
    Policy,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Agent, Kind::Skill, Kind::Handler, Kind::Policy];

    /// The `agora:platform` interfaces a component of this kind may import, and the host
    /// links for it: a policy is pure (`log` and the function-less `types` only).
    pub fn imports(self) -> &'static [&'static str] {
        match self {
            Kind::Policy => &["types", "log"],
            Kind::Agent | Kind::Skill | Kind::Handler => {
                &["types", "log", "kv", "http", "llm", "knowledge", "skills", "marketplace", "messaging"]
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Agent => "agent",
            Kind::Skill => "skill",
            Kind::Handler => "handler",
            Kind::Policy => "policy",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown component kind {0:?} (expected agent, skill, handler or policy)")]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownKind(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_round_trips_through_text_and_json() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>().unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), kind);
        }
        assert!("Agent".parse::<Kind>().is_err());
    }
}
