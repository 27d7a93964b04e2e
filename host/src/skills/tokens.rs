//! Offline licence tokens: the host signs what a licence grants with an Ed25519 key whose
//! public half is published at `GET /api/skills/license-keys` (a JWK set, RFC 8037), so a
//! skill running anywhere can check a licence without calling home.
//!
//! A token is `agl1.<payload>.<signature>`: the payload is base64url (no padding) of a JSON
//! object `{kid, lic, skill, buyer, model, iat, exp}` (times in Unix seconds, `exp` null for
//! a licence that does not expire), and the signature is base64url of the Ed25519 signature
//! of the ASCII bytes `agl1.<payload>`. A licence revoked before `exp` is only seen online.

use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "agl1";

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub kid: String,
    /// The licence id.
    pub lic: String,
    pub skill: String,
    pub buyer: String,
    pub model: String,
    pub iat: i64,
    pub exp: Option<i64>,
}

pub struct LicenseSigner {
    key: SigningKey,
    kid: String,
}

impl LicenseSigner {
    /// The configured key (base64 of a 32-byte seed), or the one kept in the data directory,
    /// made there at first start.
    pub fn load(configured: &str, data_dir: &Path) -> anyhow::Result<LicenseSigner> {
        let seed = crate::secrets::key_32(configured, "license_signing_key", data_dir, "license-signing.key")?;
        Ok(LicenseSigner::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> LicenseSigner {
        let key = SigningKey::from_bytes(seed);
        let kid = hex::encode(&Sha256::digest(key.verifying_key().as_bytes())[..8]);
        LicenseSigner { key, kid }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The published key as a JWK (`OKP`, `Ed25519`).
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.public_key().as_bytes()),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        })
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signed = format!("{TOKEN_PREFIX}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(self.key.sign(signed.as_bytes()).to_bytes());
        format!("{signed}.{signature}")
    }
}

/// Checks a token's signature with `key` and returns what it says; the caller compares `exp`
/// with its clock.
pub fn verify(token: &str, key: &VerifyingKey) -> Result<Claims, String> {
    let mut parts = token.split('.');
    let (Some(TOKEN_PREFIX), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not an agl1 licence token".into());
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "the signature is not base64url")?;
    let signature = Signature::from_slice(&signature).map_err(|_| "the signature has the wrong length")?;
    key.verify(format!("{TOKEN_PREFIX}.{payload}").as_bytes(), &signature)
        .map_err(|_| "the signature does not verify")?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| "the payload is not base64url")?;
    serde_json::from_slice(&payload).map_err(|e| format!("the payload is not a licence: {e}"))
}

/// The key of a published JWK, from its `x` (base64url of the 32-byte public key).
pub fn key_from_jwk_x(x: &str) -> Result<VerifyingKey, String> {
    let bytes = URL_SAFE_NO_PAD.decode(x).map_err(|_| "x is not base64url")?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| "x must be 32 bytes")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| "x is not an Ed25519 key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            kid: "k".into(),
            lic: "lic-1".into(),
            skill: "skill-1".into(),
            buyer: "agent-1".into(),
            model: "ONE_TIME".into(),
            iat: 1_700_000_000,
            exp: None,
        }
    }

    #[test]
    fn tokens_verify_with_the_published_key_only() {
        let signer = LicenseSigner::from_seed(&[7; 32]);
        let token = signer.sign(&claims());
        assert_eq!(verify(&token, &signer.public_key()), Ok(claims()));

        let other = LicenseSigner::from_seed(&[8; 32]);
        assert!(verify(&token, &other.public_key()).is_err());

        let (head, _) = token.rsplit_once('.').unwrap();
        let forged_claims = Claims { buyer: "agent-2".into(), ..claims() };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged_claims).unwrap());
        let signature = token.rsplit('.').next().unwrap();
        assert!(verify(&format!("agl1.{forged_payload}.{signature}"), &signer.public_key()).is_err());
        assert!(verify(head, &signer.public_key()).is_err());
        assert!(verify("", &signer.public_key()).is_err());
    }

    /// The format is fixed: `agora-sdk`'s offline check verifies this very token.
    #[test]
    fn the_documented_format_does_not_drift() {
        let signer = LicenseSigner::from_seed(&[7; 32]);
        let claims = Claims { kid: signer.kid().to_string(), exp: Some(1_900_000_000), ..claims() };
        let token = signer.sign(&claims);
        assert_eq!(token, TEST_VECTOR, "{}", signer.jwk());
        let x = signer.jwk()["x"].as_str().unwrap().to_string();
        assert_eq!(verify(&token, &key_from_jwk_x(&x).unwrap()), Ok(claims));
    }

    const TEST_VECTOR: &str = "agl1.eyJraWQiOiJmZTgxMmMxMmYzYWI0Y2U2IiwibGljIjoibGljLTEiLCJ\
        za2lsbCI6InNraWxsLTEiLCJidXllciI6ImFnZW50LTEiLCJtb2RlbCI6Ik9\
        ORV9USU1FIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE5MDAwMDAwMDB9.mw\
        0iImow7pozSCYebh06BafmaZJNwlsk2WqdRweOUyF8YWSf3KNV6DyfaSIBeBbBdRQx8aG1HRZmJ2c8XjTfDg";

    #[test]
    fn the_key_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("agora-license-key-{}", crate::secrets::random_token(8)));
        let first = LicenseSigner::load("", &dir).unwrap();
        let again = LicenseSigner::load("", &dir).unwrap();
        assert_eq!(first.kid(), again.kid());
        let configured =
            LicenseSigner::load(&base64::engine::general_purpose::STANDARD.encode([7u8; 32]), &dir).unwrap();
        assert_eq!(configured.kid(), LicenseSigner::from_seed(&[7; 32]).kid());
        assert!(LicenseSigner::load("c2hvcnQ=", &dir).is_err());
        std::fs::remove_dir_all(dir).ok();
    }
}
