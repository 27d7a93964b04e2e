//! Caps spending: a "spend" above `deny_above_cents` is denied, one above
//! `approval_above_cents` needs a person's approval, anything smaller is allowed.
//! Other kinds of action are not this policy's concern and are allowed.
//!
//! `settings`: `{"deny_above_cents": 10000, "approval_above_cents": 5000}` (the defaults of a
//! setting left out; a left-out approval threshold is at most the deny one), checked when a
//! policy is created.

use agora_sdk::{Decision, Policy, ProposedAction};
use serde_json::Value;

pub const DENY_ABOVE_CENTS: u64 = 10_000;
pub const APPROVAL_ABOVE_CENTS: u64 = 5_000;

/// The two thresholds, in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub deny_above: u64,
    pub approval_above: u64,
}

impl Default for Caps {
    fn default() -> Self {
        Caps { deny_above: DENY_ABOVE_CENTS, approval_above: APPROVAL_ABOVE_CENTS }
    }
}

impl Caps {
    /// The caps `settings` set, or what is wrong with them.
    pub fn from_settings(settings: &Value) -> Result<Caps, String> {
        let Some(fields) = settings.as_object() else {
            return Err("settings must be a JSON object".into());
        };
        if let Some(unknown) =
            fields.keys().find(|k| !["deny_above_cents", "approval_above_cents"].contains(&k.as_str()))
        {
            return Err(format!(
                "unknown setting {unknown:?}: spend-cap takes deny_above_cents and approval_above_cents"
            ));
        }
        let cents = |field: &str, default: u64| match fields.get(field) {
            None => Ok(default),
            Some(v) => v.as_u64().ok_or_else(|| format!("{field} must be a whole number of cents, 0 or more")),
        };
        let deny_above = cents("deny_above_cents", DENY_ABOVE_CENTS)?;
        // Left out, the approval threshold is never above the deny one.
        let caps =
            Caps { deny_above, approval_above: cents("approval_above_cents", APPROVAL_ABOVE_CENTS.min(deny_above))? };
        if caps.approval_above > caps.deny_above {
            return Err("approval_above_cents must not be above deny_above_cents".into());
        }
        Ok(caps)
    }
}

struct SpendCap;

impl Policy for SpendCap {
    fn check(action: ProposedAction) -> Decision {
        let detail: Value = serde_json::from_str(&action.detail).unwrap_or_default();
        let caps = match &detail["settings"] {
            Value::Null => Ok(Caps::default()),
            settings => Caps::from_settings(settings),
        };
        match caps {
            Ok(caps) => decide(&action, caps),
            Err(e) => Decision::Deny(format!("spend-cap's settings are invalid: {e}")),
        }
    }

    fn validate_settings(settings: &Value) -> Result<(), String> {
        Caps::from_settings(settings).map(drop)
    }
}

agora_sdk::export_policy!(SpendCap);

pub fn decide(action: &ProposedAction, caps: Caps) -> Decision {
    if action.kind != "spend" {
        return Decision::Allow(format!("spend-cap does not limit {:?} actions", action.kind));
    }
    let Caps { deny_above, approval_above } = caps;
    match action.amount_cents {
        None => Decision::Deny("a spend must state its amount".into()),
        Some(cents) if cents > deny_above => {
            Decision::Deny(format!("spending {cents} cents exceeds the cap of {deny_above} cents"))
        }
        Some(cents) if cents > approval_above => Decision::RequireApproval(format!(
            "spending {cents} cents is above {approval_above} cents and needs approval"
        )),
        Some(cents) => Decision::Allow(format!("spending {cents} cents is within the cap")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: &str, amount_cents: Option<u64>) -> ProposedAction {
        ProposedAction { kind: kind.into(), actor: "agent-1".into(), amount_cents, target: None, detail: "{}".into() }
    }

    fn verdict(kind: &str, amount: Option<u64>) -> &'static str {
        match decide(&action(kind, amount), Caps::default()) {
            Decision::Allow(_) => "allow",
            Decision::Deny(_) => "deny",
            Decision::RequireApproval(_) => "approval",
        }
    }

    #[test]
    fn spend_thresholds() {
        assert_eq!(verdict("spend", Some(0)), "allow");
        assert_eq!(verdict("spend", Some(5_000)), "allow");
        assert_eq!(verdict("spend", Some(5_001)), "approval");
        assert_eq!(verdict("spend", Some(10_000)), "approval");
        assert_eq!(verdict("spend", Some(10_001)), "deny");
        assert_eq!(verdict("spend", Some(u64::MAX)), "deny");
    }

    #[test]
    fn spend_without_amount_is_denied() {
        assert_eq!(verdict("spend", None), "deny");
    }

    #[test]
    fn other_kinds_are_allowed_with_a_reason() {
        for kind in ["execute", "http", "message", "something-new"] {
            let d = decide(&action(kind, Some(1_000_000)), Caps::default());
            assert!(matches!(d, Decision::Allow(_)), "{kind}");
            assert!(d.reason().contains(kind));
        }
    }

    #[test]
    fn reasons_name_the_amount() {
        assert_eq!(
            decide(&action("spend", Some(12_345)), Caps::default()),
            Decision::Deny("spending 12345 cents exceeds the cap of 10000 cents".into())
        );
    }

    #[test]
    fn settings_set_the_caps_and_bad_ones_are_refused() {
        let caps =
            Caps::from_settings(&serde_json::json!({"deny_above_cents": 300, "approval_above_cents": 100})).unwrap();
        assert_eq!(caps, Caps { deny_above: 300, approval_above: 100 });
        assert!(matches!(decide(&action("spend", Some(200)), caps), Decision::RequireApproval(_)));
        assert_eq!(Caps::from_settings(&serde_json::json!({})).unwrap(), Caps::default());
        let low = Caps::from_settings(&serde_json::json!({"deny_above_cents": 300})).unwrap();
        assert_eq!(low, Caps { deny_above: 300, approval_above: 300 });
        for bad in [
            serde_json::json!([1]),
            serde_json::json!({"deny_above_cents": -1}),
            serde_json::json!({"deny_above_cents": "10"}),
            serde_json::json!({"deny_above_cents": 10, "approval_above_cents": 20}),
            serde_json::json!({"max": 10}),
        ] {
            assert!(Caps::from_settings(&bad).is_err(), "{bad}");
        }
    }
}
