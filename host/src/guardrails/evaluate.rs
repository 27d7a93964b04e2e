//! Deciding an action from the policies that apply to it; no I/O.
//!
//! The rule:
//! 1. A policy applies when it is enabled, belongs to the operator or to the acting account, and
//!    every field of its `match` fits the action. A module policy that applies has the effect its
//!    module decided for this action (`modules`).
//! 2. The strongest effect among the policies that apply wins: `deny`, then `require_approval`,
//!    then `allow`. Among policies of the winning effect the one that decided is the highest
//!    `priority`, then the operator's before the account's, then the oldest.
//! 3. The operator's default (`guardrails_default_decision`) stands for the operator when none
//!    of the operator's policies applies: it joins the account's policies as the operator's
//!    word, so an account's `allow` never loosens it, and its stricter policies still tighten.
//!
//! Examples, with the default `allow`: an operator's `deny` on `action_type: spend,
//! min_amount_usd: 100` and an account's `allow` on `tool_ref: pay.*` deny a $150 `pay.card`
//! spend; an account's `require_approval` on `risk_level: high` makes a `critical` action wait
//! while nothing else applies; an action nothing matches is allowed. With the default `deny`,
//! the account's `allow` on `pay.*` alone still denies: only an operator's policy can allow.

use super::model::{Action, Effect, Outcome, Policy};

pub fn evaluate(policies: &[Policy], agent_id: &str, action: &Action, default: Effect) -> Outcome {
    let applying: Vec<&Policy> = policies.iter().filter(|p| p.applies(agent_id, action)).collect();
    let operator_spoke = applying.iter().any(|p| p.agent_id.is_none());
    let deciding = applying.iter().copied().max_by(|a, b| {
        a.effect
            .strength()
            .cmp(&b.effect.strength())
            .then(a.priority.cmp(&b.priority))
            .then(a.agent_id.is_none().cmp(&b.agent_id.is_none()))
            .then(b.created_at.cmp(&a.created_at))
            .then(b.id.cmp(&a.id))
    });
    let by_default = Outcome {
        effect: default,
        policy_id: None,
        reason: format!("no operator policy applies: the default is {}", default.as_str()),
    };
    match deciding {
        Some(p) if operator_spoke || p.effect.strength() >= default.strength() => Outcome {
            effect: p.effect,
            policy_id: Some(p.id.clone()),
            reason: if p.description.is_empty() {
                format!("policy {}: {}", p.name, p.effect.as_str())
            } else {
                format!("policy {}: {}", p.name, p.description)
            },
        },
        _ => by_default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::model::Match;

    fn policy(id: &str, owner: Option<&str>, effect: Effect, rules: Match, priority: i64) -> Policy {
        Policy {
            id: id.into(),
            agent_id: owner.map(str::to_string),
            name: id.into(),
            effect,
            rules,
            priority,
            enabled: true,
            module: None,
            description: String::new(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn spend(tool: &str, usd: f64) -> Action {
        Action {
            app: "shop".into(),
            tool_ref: tool.into(),
            action_type: "spend".into(),
            requested_amount_usd: Some(usd),
            ..Action::default()
        }
    }

    #[test]
    fn deny_wins_then_approval_then_allow_and_accounts_only_tighten() {
        let big_spends = Match { action_type: Some("spend".into()), min_amount_usd: Some(100.0), ..Match::default() };
        let pay = Match { tool_ref: Some("pay.*".into()), ..Match::default() };
        let risky = Match { risk_level: Some("high".into()), ..Match::default() };
        let policies = vec![
            policy("op-deny", None, Effect::Deny, big_spends, 0),
            policy("acct-allow", Some("a1"), Effect::Allow, pay.clone(), 10),
            policy("acct-wait", Some("a1"), Effect::RequireApproval, risky, 0),
            policy("other-deny", Some("a2"), Effect::Deny, pay, 0),
        ];
        let decide = |a: &Action, default| evaluate(&policies, "a1", a, default);

        let big = decide(&spend("pay.card", 150.0), Effect::Allow);
        assert_eq!((big.effect, big.policy_id.as_deref()), (Effect::Deny, Some("op-deny")));
        let small = decide(&spend("pay.card", 5.0), Effect::Allow);
        assert_eq!((small.effect, small.policy_id.as_deref()), (Effect::Allow, Some("acct-allow")));
        let critical = Action { risk_level: Some("critical".into()), ..spend("mail.send", 0.0) };
        assert_eq!(decide(&critical, Effect::Allow).effect, Effect::RequireApproval);
        let medium = Action { risk_level: Some("medium".into()), ..spend("mail.send", 0.0) };
        assert_eq!(
            decide(&medium, Effect::Allow),
            Outcome {
                effect: Effect::Allow,
                policy_id: None,
                reason: "no operator policy applies: the default is allow".into(),
            }
        );
        // With a strict default an account's allow does not loosen it; its stricter rules hold.
        assert_eq!(decide(&spend("pay.card", 5.0), Effect::Deny).effect, Effect::Deny);
        assert_eq!(decide(&critical, Effect::RequireApproval).policy_id.as_deref(), Some("acct-wait"));
        // Another account's policies never apply.
        assert_eq!(evaluate(&policies, "a3", &spend("pay.card", 5.0), Effect::Allow).policy_id, None);
    }

    #[test]
    fn priority_then_the_operator_decide_among_equals() {
        let all = Match::default();
        let mut policies = vec![
            policy("low", None, Effect::Deny, all.clone(), 1),
            policy("high", Some("a1"), Effect::Deny, all.clone(), 5),
            policy("op-same", None, Effect::Deny, all.clone(), 5),
        ];
        assert_eq!(evaluate(&policies, "a1", &spend("x", 1.0), Effect::Allow).policy_id.as_deref(), Some("op-same"));
        policies[2].enabled = false;
        assert_eq!(evaluate(&policies, "a1", &spend("x", 1.0), Effect::Allow).policy_id.as_deref(), Some("high"));
    }
}
