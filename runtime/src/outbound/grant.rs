//! Matching a URL's host against the host names a component was granted.

/// Whether `host` is one of `grants`: an exact name, or `*.suffix` for any subdomain of
/// `suffix` (not `suffix` itself). Case-insensitive; a trailing dot and IPv6 brackets are
/// ignored on both sides.
pub(crate) fn host_granted(host: &str, grants: &[String]) -> bool {
    let host = normalize(host);
    !host.is_empty()
        && grants.iter().any(|grant| {
            let grant = normalize(grant);
            match grant.strip_prefix("*.") {
                Some(suffix) if !suffix.is_empty() => {
                    host.len() > suffix.len() + 1
                        && host.ends_with(&suffix)
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
                Some(_) => false,
                None => !grant.is_empty() && grant == host,
            }
        })
}

fn normalize(name: &str) -> String {
    let name = name.trim();
    let name = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(host: &str, grants: &[&str]) -> bool {
        host_granted(host, &grants.iter().map(|g| g.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn exact_and_wildcard_grants() {
        assert!(granted("api.example.com", &["api.example.com"]));
        assert!(granted("API.Example.com.", &["api.example.com"]));
        assert!(!granted("example.com", &["api.example.com"]));
        assert!(!granted("api.example.com.evil.net", &["api.example.com"]));
        assert!(granted("a.example.com", &["*.example.com"]));
        assert!(granted("a.b.example.com", &["*.example.com"]));
        assert!(!granted("example.com", &["*.example.com"]));
        assert!(!granted("badexample.com", &["*.example.com"]));
        assert!(!granted("anything.com", &["*."]));
        assert!(!granted("anything.com", &["*"]));
        assert!(!granted("", &[""]));
        assert!(granted("::1", &["[::1]"]));
        assert!(granted("[::1]", &["::1"]));
        assert!(!granted("example.com", &[]));
    }
}
