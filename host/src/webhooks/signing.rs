//! Signing a delivery: the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, keyed with the
//! base64-decoded bytes of the `whsec_` secret), and AgentMarket's (`X-AgentMarket-Signature:
//! sha256=<hex HMAC-SHA256 of the body>`, keyed with the secret string itself, as its
//! document's verification sample does).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::secrets::{hmac_sha256, hmac_sha256_hex, random_bytes};

const PREFIX: &str = "whsec_";

/// A new secret: `whsec_` and the standard base64 of 32 random bytes.
pub fn new_secret() -> String {
    format!("{PREFIX}{}", STANDARD.encode(random_bytes(32)))
}

/// One `v1,<base64>` entry of `webhook-signature` under `secret`.
pub fn standard(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.trim_start_matches(PREFIX)).unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mac = hmac_sha256(&key, &[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body]);
    format!("v1,{}", STANDARD.encode(mac))
}

/// The `webhook-signature` header: one entry per valid secret, space-separated (during a
/// rotation, the new secret's and the old one's).
pub fn standard_header(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|s| standard(s, id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// The `X-AgentMarket-Signature` header under `secret`.
pub fn agentmarket(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_signature_matches_the_specification_example() {
        // The example of the Standard Webhooks specification and its reference libraries.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            standard(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let both = standard_header(&[secret, "whsec_c2Vjb25k"], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert!(both.starts_with("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,"), "{both}");
    }

    #[test]
    fn new_secrets_are_32_random_bytes_in_base64() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(a.trim_start_matches(PREFIX)).unwrap().len(), 32);
    }
}
