//! Payment callbacks' signatures, Stripe's scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "t.body">[,v1=...]`, keyed with the `whsec_` signing secret string itself. More than one `v1`
//! is sent while a secret is being rolled; any one matching is enough. The test provider signs
//! its callbacks the same way with a secret of its own.

use crate::secrets::{hmac_sha256, same_secret};

/// How old a signed timestamp may be (either way), as Stripe's libraries allow by default.
pub const TOLERANCE_SECS: i64 = 300;

/// The header value for `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", mac(secret, timestamp, body))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[timestamp.to_string().as_bytes(), b".", body]))
}

/// Checks `header` over `body` at `now` (unix seconds); the reason when it does not hold.
pub fn verify(secret: &str, header: Option<&str>, body: &[u8], now: i64) -> Result<(), String> {
    let header = header.ok_or("missing signature header")?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or("the signature header has no timestamp")?;
    if signatures.is_empty() {
        return Err("the signature header has no v1 signature".into());
    }
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err("the signature's timestamp is outside the tolerance".into());
    }
    let expected = mac(secret, timestamp, body);
    if signatures.iter().any(|s| same_secret(s, &expected)) {
        Ok(())
    } else {
        Err("no signature matches".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn the_signature_is_hex_hmac_of_timestamp_dot_body_keyed_with_the_secret_string() {
        // HMAC-SHA256("whsec_test_secret", "1700000000.{}"), computed independently.
        assert_eq!(
            sign(SECRET, 1_700_000_000, b"{}"),
            format!("t=1700000000,v1={}", crate::secrets::hmac_sha256_hex(SECRET.as_bytes(), b"1700000000.{}"))
        );
    }

    #[test]
    fn genuine_signatures_pass_and_everything_else_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, 1_000, body);
        assert_eq!(verify(SECRET, Some(&header), body, 1_010), Ok(()));
        // One of several v1 signatures (a secret being rolled) is enough.
        let rolled = format!("{header},v1={}", "0".repeat(64));
        assert_eq!(verify(SECRET, Some(&rolled), body, 1_000), Ok(()));
        assert!(verify(SECRET, None, body, 1_000).is_err());
        assert!(verify("whsec_other", Some(&header), body, 1_000).is_err());
        assert!(verify(SECRET, Some(&header), br#"{"id":"evt_2"}"#, 1_000).is_err());
        assert!(verify(SECRET, Some(&header), body, 1_000 + TOLERANCE_SECS + 1).is_err());
        assert!(verify(SECRET, Some("v1=abc"), body, 1_000).is_err());
        assert!(verify(SECRET, Some("t=1000"), body, 1_000).is_err());
        assert!(verify(SECRET, Some("garbage"), body, 1_000).is_err());
    }
}
