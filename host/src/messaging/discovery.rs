//! Discovery: the agents a domain publishes in DNS. A domain lists its agents as TXT records at
//! `_toq.<domain>`, one agent each: `v=toq1; address=toq://<host>/<handle>; key=ed25519:<base64>`
//! (`key` optional; other versions and other text are skipped). The lookup goes to the resolver
//! `messaging_dns_resolver` names, or the system's. A published key is checked against this
//! host's own agents; an agent elsewhere is checked with `POST /v1/ping`.

use std::net::SocketAddr;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::{ResolveError, ResolveErrorKind, TokioResolver};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::Address;
use super::{identity, store, MessagingError};
use crate::state::App;

#[derive(Debug, Serialize, ToSchema)]
pub struct Discovered {
    pub host: String,
    /// The name that was looked up.
    pub record: String,
    pub agents: Vec<DiscoveredAgent>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiscoveredAgent {
    pub address: String,
    /// The key the record publishes, if any.
    pub public_key: Option<String>,
    /// For an agent of this host: whether the published key is its key now; otherwise null.
    pub key_matches: Option<bool>,
}

fn resolver(app: &App) -> Result<TokioResolver, MessagingError> {
    let configured = app.config.messaging.messaging_dns_resolver.trim();
    let provider = TokioConnectionProvider::default();
    let builder = if configured.is_empty() {
        TokioResolver::builder(provider).map_err(|e| MessagingError::Unreachable(format!("no DNS resolver: {e}")))?
    } else {
        let at: SocketAddr =
            configured.parse().map_err(|_| MessagingError::Internal("messaging_dns_resolver is not ip:port"))?;
        let servers = NameServerConfigGroup::from_ips_clear(&[at.ip()], at.port(), true);
        TokioResolver::builder_with_config(ResolverConfig::from_parts(None, vec![], servers), provider)
    };
    Ok(builder.build())
}

fn valid_domain(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// One record's agent, if it is a `v=toq1` record naming a valid address.
fn parse_record(text: &str) -> Option<(String, Option<String>)> {
    let mut fields = text.split(';').map(str::trim).filter(|f| !f.is_empty()).filter_map(|f| f.split_once('='));
    let mut version = None;
    let (mut address, mut key) = (None, None);
    for (name, value) in fields.by_ref() {
        match name.trim() {
            "v" => version = Some(value.trim()),
            "address" => address = Some(value.trim().to_string()),
            "key" => key = Some(value.trim().to_string()).filter(|k| k.starts_with("ed25519:")),
            _ => {}
        }
    }
    let address = address.filter(|_| version == Some("toq1"))?;
    matches!(Address::parse(&address), Ok(Address::Agent { .. })).then_some((address, key))
}

/// Whether the answer was that the name has no TXT records (or does not exist), rather than a
/// failure to get an answer.
fn no_such_records(e: &ResolveError) -> bool {
    let ResolveErrorKind::Proto(p) = e.kind() else { return false };
    matches!(p.kind(), ProtoErrorKind::NoRecordsFound { response_code, .. }
        if matches!(*response_code, ResponseCode::NXDomain | ResponseCode::NoError))
}

pub async fn discover(app: &App, host: &str) -> Result<Discovered, MessagingError> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if !valid_domain(&host) {
        return Err(MessagingError::Invalid("host must be a domain name such as example.com".into()));
    }
    let record = format!("_toq.{host}");
    let texts: Vec<String> = match resolver(app)?.txt_lookup(format!("{record}.")).await {
        Ok(found) => found
            .iter()
            .map(|txt| txt.txt_data().iter().map(|piece| String::from_utf8_lossy(piece)).collect::<String>())
            .collect(),
        Err(e) if no_such_records(&e) => Vec::new(),
        Err(e) => return Err(MessagingError::Unreachable(format!("the DNS lookup of {record} failed: {e}"))),
    };
    let here = identity::host_name(app);
    let mut agents: Vec<DiscoveredAgent> = Vec::new();
    for (address, public_key) in texts.iter().filter_map(|t| parse_record(t)) {
        if agents.iter().any(|a| a.address == address) {
            continue;
        }
        let key_matches = match Address::parse(&address) {
            Ok(Address::Agent { host, handle }) if host == here => {
                let current = match store::agent_by_handle(&app.db, &handle).await? {
                    Some(id) => store::identity(&app.db, &id).await?.map(|i| i.public_key),
                    None => None,
                };
                Some(current.is_some() && current == public_key)
            }
            _ => None,
        };
        agents.push(DiscoveredAgent { address, public_key, key_matches });
    }
    Ok(Discovered { host, record, agents })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_name_agents_and_everything_else_is_skipped() {
        let key = "ed25519:AAAA";
        let ok = parse_record(&format!("v=toq1; address=toq://example.com/alice; key={key}"));
        assert_eq!(ok, Some(("toq://example.com/alice".into(), Some(key.into()))));
        assert_eq!(parse_record("v=toq1;address=toq://h/bob"), Some(("toq://h/bob".into(), None)));
        for skipped in
            ["v=spf1 include:x", "v=toq2; address=toq://h/bob", "address=toq://h/bob", "v=toq1; address=https://x"]
        {
            assert_eq!(parse_record(skipped), None, "{skipped}");
        }
        assert!(
            valid_domain("agents.example.com") && !valid_domain("-x.com") && !valid_domain("a..b") && !valid_domain("")
        );
    }
}
