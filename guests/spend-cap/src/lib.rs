//! Caps spending: a "spend" above 10,000 cents is denied, one above 5,000
//! cents needs a person's approval, anything smaller is allowed. Other kinds
//! of action are not this policy's concern and are allowed.

use agora_sdk::{Decision, Policy, ProposedAction};

pub const DENY_ABOVE_CENTS: u64 = 10_000;
pub const APPROVAL_ABOVE_CENTS: u64 = 5_000;

struct SpendCap;

impl Policy for SpendCap {
    fn check(action: ProposedAction) -> Decision {
        decide(&action)
    }
}

agora_sdk::export_policy!(SpendCap);

pub fn decide(action: &ProposedAction) -> Decision {
    if action.kind != "spend" {
        return Decision::Allow(format!(
            "spend-cap does not limit {:?} actions",
            action.kind
        ));
    }
    match action.amount_cents {
        None => Decision::Deny("a spend must state its amount".into()),
        Some(cents) if cents > DENY_ABOVE_CENTS => Decision::Deny(format!(
            "spending {cents} cents exceeds the cap of {DENY_ABOVE_CENTS} cents"
        )),
        Some(cents) if cents > APPROVAL_ABOVE_CENTS => Decision::RequireApproval(format!(
            "spending {cents} cents is above {APPROVAL_ABOVE_CENTS} cents and needs approval"
        )),
        Some(cents) => Decision::Allow(format!("spending {cents} cents is within the cap")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: &str, amount_cents: Option<u64>) -> ProposedAction {
        ProposedAction {
            kind: kind.into(),
            actor: "agent-1".into(),
            amount_cents,
            target: None,
            detail: "{}".into(),
        }
    }

    fn verdict(kind: &str, amount: Option<u64>) -> &'static str {
        match decide(&action(kind, amount)) {
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
            let d = decide(&action(kind, Some(1_000_000)));
            assert!(matches!(d, Decision::Allow(_)), "{kind}");
            assert!(d.reason().contains(kind));
        }
    }

    #[test]
    fn reasons_name_the_amount() {
        assert_eq!(
            decide(&action("spend", Some(12_345))),
            Decision::Deny("spending 12345 cents exceeds the cap of 10000 cents".into())
        );
    }
}
