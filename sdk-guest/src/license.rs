//! Checking an Agora licence token offline: a skill that runs outside Agora can prove its
//! buyer's licence without calling `GET /api/skills/verify`.
//!
//! A token is `agl1.<payload>.<signature>`: `payload` is base64url (no padding) of the JSON
//! `{kid, lic, skill, buyer, model, iat, exp}` (Unix seconds; `exp` null when the licence
//! does not expire) and `signature` the base64url Ed25519 signature of the ASCII text
//! `agl1.<payload>`, made with one of the keys published at `GET /api/skills/license-keys`.
//! A licence revoked before `exp` still verifies offline: only the online check sees it.
//!
//! ```no_run
//! # let (token, keys_json, now) = ("agl1....", "{\"keys\": []}", 0);
//! let claims = agora_sdk::license::verify_license_offline(token, keys_json, now)?;
//! assert_eq!(claims.skill, "my-skill-id");
//! # Ok::<(), agora_sdk::license::LicenseError>(())
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Deserialize;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LicenseClaims {
    /// The signing key's id.
    pub kid: String,
    /// The licence id.
    pub lic: String,
    pub skill: String,
    /// The agent that bought it.
    pub buyer: String,
    /// `FREE`, `ONE_TIME`, `SUBSCRIPTION` or `PER_CALL`.
    pub model: String,
    pub iat: i64,
    pub exp: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseError {
    /// Not a token, or its parts do not decode.
    Malformed(String),
    /// No published key has the token's `kid`.
    UnknownKey(String),
    /// The signature does not verify: forged or altered.
    BadSignature,
    /// Past `exp`.
    Expired,
}

impl core::fmt::Display for LicenseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LicenseError::Malformed(why) => write!(f, "malformed licence token: {why}"),
            LicenseError::UnknownKey(kid) => write!(f, "no published key {kid}"),
            LicenseError::BadSignature => f.write_str("the licence token's signature does not verify"),
            LicenseError::Expired => f.write_str("the licence has expired"),
        }
    }
}

impl std::error::Error for LicenseError {}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: String,
    x: String,
}

/// Checks `token` against the key set `keys_json` (the body of
/// `GET /api/skills/license-keys`) at `now_unix_secs`.
pub fn verify_license_offline(token: &str, keys_json: &str, now_unix_secs: i64) -> Result<LicenseClaims, LicenseError> {
    let malformed = |why: &str| LicenseError::Malformed(why.to_string());
    let mut parts = token.split('.');
    let (Some("agl1"), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected agl1.<payload>.<signature>"));
    };
    let claims: LicenseClaims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| malformed("the payload is not base64url JSON claims"))?;
    let keys: Jwks = serde_json::from_str(keys_json).map_err(|_| malformed("the key set is not a JWK set"))?;
    let jwk =
        keys.keys.iter().find(|k| k.kid == claims.kid).ok_or_else(|| LicenseError::UnknownKey(claims.kid.clone()))?;
    let key_bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(&jwk.x)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| malformed("the key's x is not 32 base64url bytes"))?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| malformed("the key is not Ed25519"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| malformed("the signature is not 64 base64url bytes"))?;
    key.verify(format!("agl1.{payload}").as_bytes(), &signature).map_err(|_| LicenseError::BadSignature)?;
    match claims.exp {
        Some(exp) if exp <= now_unix_secs => Err(LicenseError::Expired),
        _ => Ok(claims),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signed by the host with the seed [7; 32] (its test `the_documented_format_does_not_drift`).
    const TOKEN: &str = "agl1.eyJraWQiOiJmZTgxMmMxMmYzYWI0Y2U2IiwibGljIjoibGljLTEiLCJ\
        za2lsbCI6InNraWxsLTEiLCJidXllciI6ImFnZW50LTEiLCJtb2RlbCI6Ik9\
        ORV9USU1FIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE5MDAwMDAwMDB9.mw\
        0iImow7pozSCYebh06BafmaZJNwlsk2WqdRweOUyF8YWSf3KNV6DyfaSIBeBbBdRQx8aG1HRZmJ2c8XjTfDg";
    const KEYS: &str = r#"{"keys": [{"alg": "EdDSA", "crv": "Ed25519", "kid": "fe812c12f3ab4ce6",
        "kty": "OKP", "use": "sig", "x": "6kpsY-KcUgq-9VB7Ey7F-ZVHdq6-vnuSQh7qaRRG0iw"}]}"#;

    #[test]
    fn the_hosts_token_verifies_until_it_expires() {
        let claims = verify_license_offline(TOKEN, KEYS, 1_800_000_000).unwrap();
        assert_eq!(claims.skill, "skill-1");
        assert_eq!(claims.buyer, "agent-1");
        assert_eq!(claims.exp, Some(1_900_000_000));
        assert_eq!(verify_license_offline(TOKEN, KEYS, 1_900_000_000), Err(LicenseError::Expired));
    }

    #[test]
    fn altered_and_unknown_tokens_are_refused() {
        let tampered = TOKEN.replace(".mw0i", ".mw0j");
        assert_eq!(verify_license_offline(&tampered, KEYS, 0), Err(LicenseError::BadSignature));
        let other_kid = KEYS.replace("fe812c12f3ab4ce6", "0000000000000000");
        assert!(matches!(verify_license_offline(TOKEN, &other_kid, 0), Err(LicenseError::UnknownKey(_))));
        assert!(matches!(verify_license_offline("sk_abc", KEYS, 0), Err(LicenseError::Malformed(_))));

        // A payload swapped for another buyer's keeps the old signature, which then fails.
        let (_, rest) = TOKEN.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            br#"{"kid":"fe812c12f3ab4ce6","lic":"x","skill":"skill-1","buyer":"me","model":"FREE","iat":0,"exp":null}"#,
        );
        let forged = format!("agl1.{forged}.{signature}");
        assert_eq!(verify_license_offline(&forged, KEYS, 0), Err(LicenseError::BadSignature));
    }
}
