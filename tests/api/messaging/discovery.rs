//! Discovery: a domain's agents from its `_toq.<domain>` TXT records, through the resolver the
//! host is configured with (a DNS server on loopback here); keys checked against this host's
//! agents; a failing lookup and a bad domain refused; mDNS answered honestly.

use agora_e2e::fixtures::dns::FakeDns;
use agora_e2e::{Options, Server};
use serde_json::json;

use super::agent;

#[tokio::test]
async fn a_domain_lists_its_agents_in_dns_txt_records() {
    let dns = FakeDns::start().await;
    let s = Server::start_with(Options::default().env("AGORA_MESSAGING_DNS_RESOLVER", &dns.addr.to_string())).await;
    let (alice, alice_at) = agent(&s, "Alice Listed").await;
    let (_, bob_at) = agent(&s, "Bob Listed").await;
    let alice_key = s.get("/v1/card", Some(&alice)).await.body["public_key"].as_str().unwrap().to_string();
    let alice_record = format!("v=toq1; address={alice_at}; key={alice_key}");
    let bob_record = format!("v=toq1; address={bob_at}; key=ed25519:c3RhbGU=");
    dns.set(
        "_toq.agents.example",
        &[&alice_record, &bob_record, "v=spf1 -all", "v=toq1; address=toq://far.example/carol", &alice_record],
    );
    dns.set("_toq.quiet.example", &[]);

    let found = s.get("/v1/discover?host=Agents.Example.", Some(&alice)).await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["host"], json!("agents.example"));
    assert_eq!(found.body["record"], json!("_toq.agents.example"));
    assert_eq!(
        found.body["agents"],
        json!([
            {"address": alice_at, "public_key": alice_key, "key_matches": true},
            {"address": bob_at, "public_key": "ed25519:c3RhbGU=", "key_matches": false},
            {"address": "toq://far.example/carol", "public_key": null, "key_matches": null},
        ])
    );
    for empty in ["quiet.example", "nowhere.example"] {
        let r = s.get(&format!("/v1/discover?host={empty}"), Some(&alice)).await;
        assert_eq!((r.status.as_u16(), r.body["agents"].clone()), (200, json!([])), "{empty}: {}", r.body);
    }
    s.get("/v1/discover?host=fail.example", Some(&alice)).await.assert_error(502, "not_reachable");
    for bad in ["", "a..b", "-x.example", "x%20y.example"] {
        s.get(&format!("/v1/discover?host={bad}"), Some(&alice)).await.assert_error(400, "invalid_request");
    }
    s.get("/v1/discover?host=agents.example", None).await.assert_error(401, "unauthorized");
    s.get("/v1/discover/local", Some(&alice)).await.assert_error(501, "not_available");
}
