//! A policy: `communication` to a host outside `settings.hosts` (exact names, or `*.domain` for
//! its subdomains) needs a person's approval; to a listed host it is allowed. The host is the
//! action's `target`. Other kinds of action are not this policy's concern.

use agora_sdk::{Decision, Policy, ProposedAction};

struct AllowHosts;

impl Policy for AllowHosts {
    fn check(action: ProposedAction) -> Decision {
        let detail: serde_json::Value = serde_json::from_str(&action.detail).unwrap_or_default();
        let hosts: Vec<&str> =
            detail["settings"]["hosts"].as_array().into_iter().flatten().filter_map(|h| h.as_str()).collect();
        decide(&action, &hosts)
    }
}

agora_sdk::export_policy!(AllowHosts);

pub fn decide(action: &ProposedAction, hosts: &[&str]) -> Decision {
    if action.kind != "communication" {
        return Decision::Allow(format!("allow-hosts does not limit {:?} actions", action.kind));
    }
    let Some(target) = action.target.as_deref().map(str::to_ascii_lowercase) else {
        return Decision::RequireApproval("a communication without a target host needs approval".into());
    };
    let listed = hosts.iter().any(|h| match h.strip_prefix("*.") {
        Some(domain) => target.ends_with(&format!(".{}", domain.to_ascii_lowercase())),
        None => h.eq_ignore_ascii_case(&target),
    });
    if listed {
        Decision::Allow(format!("{target} is on the allow-list"))
    } else {
        Decision::RequireApproval(format!("{target} is not on the allow-list"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn talk(target: Option<&str>) -> ProposedAction {
        ProposedAction {
            kind: "communication".into(),
            actor: "a".into(),
            amount_cents: None,
            target: target.map(str::to_string),
            detail: "{}".into(),
        }
    }

    #[test]
    fn listed_hosts_and_their_subdomains_pass_others_wait() {
        let hosts = ["api.example.com", "*.trusted.org"];
        assert!(matches!(decide(&talk(Some("API.example.com")), &hosts), Decision::Allow(_)));
        assert!(matches!(decide(&talk(Some("a.b.trusted.org")), &hosts), Decision::Allow(_)));
        assert!(matches!(decide(&talk(Some("trusted.org")), &hosts), Decision::RequireApproval(_)));
        assert!(matches!(decide(&talk(Some("evil.example")), &hosts), Decision::RequireApproval(_)));
        assert!(matches!(decide(&talk(None), &hosts), Decision::RequireApproval(_)));
        let spend = ProposedAction { kind: "spend".into(), ..talk(None) };
        assert!(matches!(decide(&spend, &hosts), Decision::Allow(_)));
    }
}
