//! A policy: `communication` to a host outside `settings.hosts` (exact names, or `*.domain` for
//! its subdomains) needs a person's approval; to a listed host it is allowed. The host is the
//! action's `metadata.host` when it has one (the host's `agora.http` actions do, their target
//! being `METHOD host`), else its `target`. Other kinds of action are not this policy's concern.

use agora_sdk::{Decision, Policy, ProposedAction};

struct AllowHosts;

impl Policy for AllowHosts {
    fn check(action: ProposedAction) -> Decision {
        let detail: serde_json::Value = serde_json::from_str(&action.detail).unwrap_or_default();
        let hosts: Vec<&str> =
            detail["settings"]["hosts"].as_array().into_iter().flatten().filter_map(|h| h.as_str()).collect();
        let host = detail["metadata"]["host"].as_str().map(str::to_string).or_else(|| action.target.clone());
        decide(&action, host.as_deref(), &hosts)
    }

    fn validate_settings(settings: &serde_json::Value) -> Result<(), String> {
        let fields = settings.as_object().ok_or("settings must be a JSON object")?;
        if let Some(unknown) = fields.keys().find(|k| *k != "hosts") {
            return Err(format!("unknown setting {unknown:?}: allow-hosts takes hosts"));
        }
        let hosts = fields.get("hosts").and_then(|h| h.as_array()).ok_or("hosts must be an array of host names")?;
        for host in hosts {
            let name = host.as_str().unwrap_or_default();
            let bare = name.strip_prefix("*.").unwrap_or(name);
            if bare.is_empty() || bare.contains(['*', '/', ':', ' ']) {
                return Err(format!("{host} is not a host name or *.domain"));
            }
        }
        Ok(())
    }
}

agora_sdk::export_policy!(AllowHosts);

pub fn decide(action: &ProposedAction, target: Option<&str>, hosts: &[&str]) -> Decision {
    if action.kind != "communication" {
        return Decision::Allow(format!("allow-hosts does not limit {:?} actions", action.kind));
    }
    let Some(target) = target.map(str::to_ascii_lowercase) else {
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

    fn talk() -> ProposedAction {
        ProposedAction {
            kind: "communication".into(),
            actor: "a".into(),
            amount_cents: None,
            target: None,
            detail: "{}".into(),
        }
    }

    #[test]
    fn listed_hosts_and_their_subdomains_pass_others_wait() {
        let hosts = ["api.example.com", "*.trusted.org"];
        let to = |host: Option<&str>| decide(&talk(), host, &hosts);
        assert!(matches!(to(Some("API.example.com")), Decision::Allow(_)));
        assert!(matches!(to(Some("a.b.trusted.org")), Decision::Allow(_)));
        assert!(matches!(to(Some("trusted.org")), Decision::RequireApproval(_)));
        assert!(matches!(to(Some("evil.example")), Decision::RequireApproval(_)));
        assert!(matches!(to(None), Decision::RequireApproval(_)));
        let spend = ProposedAction { kind: "spend".into(), ..talk() };
        assert!(matches!(decide(&spend, None, &hosts), Decision::Allow(_)));
    }
}
