//! Outbound-request guard: which addresses requests may not reach unless the operator allows
//! private targets, and resolution that checks every address. Callers connect to the address
//! checked here, so a second DNS answer cannot swap in another one. Used by the `http`
//! capability, by endpoint agents and webhook deliveries (`PinnedClients`), and when webhook
//! and endpoint URLs are saved.
//!
//! An address is allowed when it is globally reachable according to the IANA IPv4 and IPv6
//! Special-Purpose Address Registries: the most specific registry entry that contains it
//! decides. Entries whose reachability the registry gives as "N/A" (deprecated relays, Teredo,
//! 6to4, ORCHID) are refused, and so is all of NAT64 (`64:ff9b::/96` is globally reachable by
//! the registry, but a translator forwards to any IPv4 address, internal ones included).
//! Multicast is refused too: it is not unicast, so not an address a request can be sent to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One registry entry: a prefix, its length, and why it is refused (`None`: reachable).
struct Entry<A> {
    prefix: A,
    len: u8,
    refused: Option<&'static str>,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, refused: Option<&'static str>) -> Entry<Ipv4Addr> {
    Entry { prefix: Ipv4Addr::new(a, b, c, d), len, refused }
}

const fn v6(segments: [u16; 8], len: u8, refused: Option<&'static str>) -> Entry<Ipv6Addr> {
    let [a, b, c, d, e, f, g, h] = segments;
    Entry { prefix: Ipv6Addr::new(a, b, c, d, e, f, g, h), len, refused }
}

const REACHABLE: Option<&str> = None;
const THIS_NETWORK: Option<&str> = Some("an unspecified (\"this network\") address");
const PRIVATE: Option<&str> = Some("a private address");
const SHARED: Option<&str> = Some("a carrier-grade NAT (shared) address");
const LOOPBACK: Option<&str> = Some("a loopback address");
const LINK_LOCAL: Option<&str> = Some("a link-local address");
const PROTOCOL: Option<&str> = Some("an IETF protocol assignment, not globally reachable");
const DOCUMENTATION: Option<&str> = Some("a documentation address");
const BENCHMARKING: Option<&str> = Some("a benchmarking address");
const RESERVED: Option<&str> = Some("a reserved address");
const MULTICAST: Option<&str> = Some("a multicast address");
const DEPRECATED: Option<&str> = Some("a deprecated relay or tunnel address");
const TRANSLATED: Option<&str> = Some("an IPv4-translation (NAT64) address");
const MAPPED: Option<&str> = Some("an IPv4-mapped or IPv4-compatible address");

/// IANA IPv4 Special-Purpose Address Registry, plus multicast.
const V4_REGISTRY: &[Entry<Ipv4Addr>] = &[
    v4(0, 0, 0, 0, 8, THIS_NETWORK),
    v4(10, 0, 0, 0, 8, PRIVATE),
    v4(100, 64, 0, 0, 10, SHARED),
    v4(127, 0, 0, 0, 8, LOOPBACK),
    v4(169, 254, 0, 0, 16, LINK_LOCAL),
    v4(172, 16, 0, 0, 12, PRIVATE),
    v4(192, 0, 0, 0, 24, PROTOCOL),
    v4(192, 0, 0, 9, 32, REACHABLE),  // Port Control Protocol anycast
    v4(192, 0, 0, 10, 32, REACHABLE), // TURN anycast
    v4(192, 0, 2, 0, 24, DOCUMENTATION),
    v4(192, 31, 196, 0, 24, REACHABLE), // AS112-v4
    v4(192, 52, 193, 0, 24, REACHABLE), // AMT
    v4(192, 88, 99, 0, 24, DEPRECATED), // 6to4 relay anycast
    v4(192, 168, 0, 0, 16, PRIVATE),
    v4(192, 175, 48, 0, 24, REACHABLE), // AS112 direct delegation
    v4(198, 18, 0, 0, 15, BENCHMARKING),
    v4(198, 51, 100, 0, 24, DOCUMENTATION),
    v4(203, 0, 113, 0, 24, DOCUMENTATION),
    v4(224, 0, 0, 0, 4, MULTICAST),
    v4(240, 0, 0, 0, 4, RESERVED),
    v4(255, 255, 255, 255, 32, Some("the limited broadcast address")),
];

/// IANA IPv6 Special-Purpose Address Registry, plus multicast and the deprecated site-local
/// and IPv4-compatible ranges.
const V6_REGISTRY: &[Entry<Ipv6Addr>] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96, MAPPED), // IPv4-compatible (deprecated)
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, Some("an unspecified address")),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, LOOPBACK),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, MAPPED),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, TRANSLATED),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, TRANSLATED),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Some("a discard-only address")),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, RESERVED), // dummy IPv6 prefix
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, PROTOCOL),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, Some("a Teredo tunnel address")),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, REACHABLE), // PCP anycast
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, REACHABLE), // TURN anycast
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, REACHABLE), // DNS-SD SRP anycast
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, BENCHMARKING),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, REACHABLE),     // AMT
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, REACHABLE), // AS112-v6
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, DEPRECATED), // ORCHID
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, REACHABLE),  // ORCHIDv2
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, REACHABLE),  // drone remote ID
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, DOCUMENTATION),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, Some("a 6to4 address")),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, REACHABLE), // AS112 direct delegation
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, DOCUMENTATION),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Some("a segment-routing (SRv6) address")),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Some("a private (unique local) address")),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LINK_LOCAL),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Some("a site-local address (deprecated)")),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, MULTICAST),
];

fn mask_v4(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

fn mask_v6(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    }
}

/// The most specific entry containing `ip` decides.
fn lookup<A: Copy>(ip: A, registry: &[Entry<A>], contains: impl Fn(A, &Entry<A>) -> bool) -> Option<&'static str> {
    registry.iter().filter(|e| contains(ip, e)).max_by_key(|e| e.len).and_then(|e| e.refused)
}

/// Why `ip` is not a globally reachable unicast address, or `None` if it is one.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => {
            lookup(ip, V4_REGISTRY, |ip, e| u32::from(ip) & mask_v4(e.len) == u32::from(e.prefix) & mask_v4(e.len))
        }
        IpAddr::V6(ip) => {
            lookup(ip, V6_REGISTRY, |ip, e| u128::from(ip) & mask_v6(e.len) == u128::from(e.prefix) & mask_v6(e.len))
        }
    }
}

/// Host names that never resolve to a public address: `localhost` and the special-use and
/// private-use domains, and single-label names (completed by a resolver's search list).
pub fn non_public_name(host: &str) -> Option<&'static str> {
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    let under = |suffix: &str| name == suffix || name.ends_with(&format!(".{suffix}"));
    if under("localhost") {
        Some("a loopback name")
    } else if ["local", "internal", "home.arpa", "localdomain", "lan", "intranet"].iter().any(|s| under(s)) {
        Some("a local or private-use domain")
    } else if !name.contains('.') {
        Some("a single-label (local) name")
    } else {
        None
    }
}

/// Checks a URL's host without resolving it: an address must be globally reachable and a
/// name must not be a local one. For URLs saved now and called later (webhooks, endpoints);
/// the call itself checks again after resolving (`resolve_allowed`).
pub fn check_url_host(url: &url::Url) -> Result<(), String> {
    match url.host() {
        None => Err("the URL has no host".into()),
        Some(url::Host::Ipv4(ip)) => refuse_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => refuse_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => match non_public_name(name) {
            Some(why) => Err(format!("{name} is {why}")),
            None => Ok(()),
        },
    }
}

fn refuse_ip(ip: IpAddr) -> Result<(), String> {
    match non_public_reason(ip) {
        Some(why) => Err(format!("{ip} is {why}")),
        None => Ok(()),
    }
}

/// Why `PinnedClients` made no client.
#[derive(Debug)]
pub enum PinError {
    /// The URL may not be called: no host, no address, or an address that is not allowed.
    Refused(String),
    /// The HTTP client could not be built.
    Client(String),
}

/// Clients for the host's own calls to URLs that agents gave it (endpoint agents, webhooks): each
/// connects only to the address `resolve_allowed` checked, through no proxy, and follows no
/// redirect. A client is kept per scheme, host and port for `ttl`, so that calls to the same
/// receiver reuse its connections instead of resolving, checking and connecting every time; a
/// name is resolved and checked again once its client is older than that. Callers set each
/// request's timeout.
pub struct PinnedClients {
    allow_private: bool,
    ttl: std::time::Duration,
    clients: std::sync::Mutex<std::collections::HashMap<Origin, (std::time::Instant, reqwest::Client)>>,
}

/// Scheme, host and port.
type Origin = (String, String, u16);

/// Hosts kept at most; past it the cache starts over.
const PINNED_HOSTS: usize = 4096;

impl PinnedClients {
    pub fn new(allow_private: bool, ttl: std::time::Duration) -> PinnedClients {
        PinnedClients { allow_private, ttl, clients: Default::default() }
    }

    pub async fn client(&self, url: &url::Url) -> Result<reqwest::Client, PinError> {
        let host = url.host_str().ok_or_else(|| PinError::Refused("the URL has no host".into()))?;
        let port = url.port_or_known_default().ok_or_else(|| PinError::Refused("the URL has no port".into()))?;
        let key = (url.scheme().to_string(), host.to_string(), port);
        if let Some((made, client)) = self.clients.lock().expect("never poisoned").get(&key) {
            if made.elapsed() < self.ttl {
                return Ok(client.clone());
            }
        }
        let addr = resolve_allowed(url, self.allow_private).await.map_err(PinError::Refused)?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .resolve(host, addr)
            .build()
            .map_err(|e| PinError::Client(e.to_string()))?;
        let mut clients = self.clients.lock().expect("never poisoned");
        if clients.len() >= PINNED_HOSTS {
            clients.clear();
        }
        clients.insert(key, (std::time::Instant::now(), client.clone()));
        Ok(client)
    }
}

/// The address to connect to for `url`: every resolved address must be allowed, and the
/// first is returned.
pub async fn resolve_allowed(url: &url::Url, allow_private: bool) -> Result<SocketAddr, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            tokio::net::lookup_host((bare, port)).await.map_err(|e| format!("cannot resolve {host}: {e}"))?.collect()
        }
    };
    let first = *addrs.first().ok_or_else(|| format!("{host} has no address"))?;
    if !allow_private {
        if let Some((bad, why)) = addrs.iter().find_map(|a| non_public_reason(a.ip()).map(|why| (a, why))) {
            return Err(format!("{host} resolves to {}, {why}", bad.ip()));
        }
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        non_public_reason(s.parse().unwrap())
    }

    /// Every registry entry, at its first and last address (and inside where an exception
    /// sits): `None` means the address must be allowed, `Some(word)` refused with a reason
    /// containing `word`.
    #[test]
    fn every_special_purpose_registry_entry() {
        let cases: &[(&str, Option<&str>)] = &[
            ("0.0.0.0", Some("unspecified")),
            ("0.255.255.255", Some("unspecified")),
            ("10.0.0.0", Some("private")),
            ("10.255.255.255", Some("private")),
            ("100.64.0.0", Some("carrier-grade")),
            ("100.127.255.255", Some("carrier-grade")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.255", Some("loopback")),
            ("169.254.0.0", Some("link-local")),
            ("169.254.169.254", Some("link-local")),
            ("172.16.0.0", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.0.0.0", Some("protocol")),
            ("192.0.0.8", Some("protocol")),
            ("192.0.0.9", None),
            ("192.0.0.10", None),
            ("192.0.0.170", Some("protocol")),
            ("192.0.0.255", Some("protocol")),
            ("192.0.2.0", Some("documentation")),
            ("192.0.2.255", Some("documentation")),
            ("192.31.196.1", None),
            ("192.52.193.1", None),
            ("192.88.99.1", Some("deprecated")),
            ("192.168.0.0", Some("private")),
            ("192.168.255.255", Some("private")),
            ("192.175.48.1", None),
            ("198.18.0.0", Some("benchmarking")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.19.255.255", Some("benchmarking")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.255", Some("documentation")),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.255", Some("multicast")),
            ("240.0.0.0", Some("reserved")),
            ("255.255.255.254", Some("reserved")),
            ("255.255.255.255", Some("broadcast")),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::127.0.0.1", Some("ipv4-compatible")),
            ("::8.8.8.8", Some("ipv4-compatible")),
            ("::ffff:0:0", Some("ipv4-mapped")),
            ("::ffff:8.8.8.8", Some("ipv4-mapped")),
            ("::ffff:127.0.0.1", Some("ipv4-mapped")),
            ("64:ff9b::", Some("nat64")),
            ("64:ff9b::1.1.1.1", Some("nat64")),
            ("64:ff9b::a9fe:a9fe", Some("nat64")),
            ("64:ff9b:1::1", Some("nat64")),
            ("100::", Some("discard")),
            ("100::ffff:ffff:ffff:ffff", Some("discard")),
            ("100:0:0:1::1", Some("reserved")),
            ("2001::", Some("teredo")),
            ("2001:0:ffff:ffff::", Some("teredo")),
            ("2001:1::1", None),
            ("2001:1::2", None),
            ("2001:1::3", None),
            ("2001:1::4", Some("protocol")),
            ("2001:2::", Some("benchmarking")),
            ("2001:2:0:ffff::1", Some("benchmarking")),
            ("2001:3::1", None),
            ("2001:4:112::1", None),
            ("2001:10::1", Some("deprecated")),
            ("2001:20::1", None),
            ("2001:30::1", None),
            ("2001:1ff:ffff::1", Some("protocol")),
            ("2001:db8::", Some("documentation")),
            ("2001:db8:ffff::1", Some("documentation")),
            ("2002::", Some("6to4")),
            ("2002:7f00:1::", Some("6to4")),
            ("2620:4f:8000::1", None),
            ("3fff::", Some("documentation")),
            ("3fff:fff::1", Some("documentation")),
            ("5f00::1", Some("srv6")),
            ("fc00::1", Some("unique local")),
            ("fd12:3456::1", Some("unique local")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
        ];
        for (ip, expected) in cases {
            let got = reason(ip);
            match (expected, got) {
                (None, None) => {}
                (Some(word), Some(why)) => {
                    assert!(why.to_lowercase().contains(&word.to_lowercase()), "{ip}: {why}, expected {word}")
                }
                _ => panic!("{ip}: got {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn ordinary_public_addresses_pass() {
        for ip in ["1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.1", "198.20.0.1"] {
            assert_eq!(reason(ip), None, "{ip}");
        }
        for ip in ["2606:4700::1111", "2a00:1450::1", "2001:200::1", "2600::1"] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn local_names_are_refused_without_resolving() {
        for host in ["localhost", "api.localhost", "LOCALHOST.", "printer.local", "metadata.google.internal", "nas"] {
            assert!(non_public_name(host).is_some(), "{host}");
        }
        for host in ["example.com", "hooks.example.org."] {
            assert_eq!(non_public_name(host), None, "{host}");
        }
        let check = |u: &str| check_url_host(&url::Url::parse(u).unwrap());
        assert!(check("http://169.254.169.254/latest").is_err());
        assert!(check("http://[::1]:8080/").is_err());
        assert!(check("http://198.18.0.1/").is_err());
        assert!(check("https://localhost/hook").is_err());
        assert!(check("https://hooks.example.com/x").is_ok());
        assert!(check("https://8.8.8.8/x").is_ok());
    }

    #[tokio::test]
    async fn resolution_checks_every_address() {
        let local = url::Url::parse("http://localhost:8080/x").unwrap();
        assert!(resolve_allowed(&local, false).await.is_err());
        assert_eq!(resolve_allowed(&local, true).await.unwrap().port(), 8080);
        let literal = url::Url::parse("http://[::1]:9/").unwrap();
        assert!(resolve_allowed(&literal, false).await.is_err());
    }
}
