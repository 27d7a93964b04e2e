//! Outbound-request guard: which addresses requests may not reach (loopback, private,
//! link-local, CGNAT, multicast, reserved, and the IPv6 forms that embed such an IPv4
//! address) unless the operator allows private targets, and resolution that checks every
//! address. Callers connect to the address checked here, so a second DNS answer cannot swap
//! in another one. Used by the runtime's `http` capability and by endpoint agents.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why `ip` is not a public unicast address, or `None` if it is one.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified (\"this network\") address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() || a >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return v4_reason(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`),
/// NAT64 (`64:ff9b::/96`) or 6to4 (`2002::/16`) address, which reach that IPv4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        // `::` and `::1` are themselves, not IPv4-compatible forms.
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_unspecified() && !ip.is_loopback() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
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

    #[test]
    fn public_addresses_pass() {
        for ip in ["1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "2606:4700::1111", "2a00:1450::1"] {
            assert_eq!(reason(ip), None, "{ip}");
        }
    }

    #[test]
    fn non_public_addresses_are_named() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade"),
            ("100.127.255.255", "carrier-grade"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private"),
            ("fd12:3456::1", "private"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::", "loopback"),
        ];
        for (ip, expected) in cases {
            let got = reason(ip).unwrap_or_else(|| panic!("{ip} should be refused"));
            assert!(got.contains(expected), "{ip}: {got}");
        }
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
