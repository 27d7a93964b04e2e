//! Ed25519 signatures over a component's SHA-256 digest (the 32 raw bytes), made with a key
//! the publisher registered on its agent. Verification is strict (RFC 8032 with canonical
//! encodings and no small-order components), and weak (small-order) public keys are refused
//! outright: with one, a signature can verify for any message without a private key.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(hex_key.trim())
        .map_err(|_| "publicKey must be 64 hex characters".to_string())?
        .try_into()
        .map_err(|_| "publicKey must be 32 bytes (64 hex characters)".to_string())?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "publicKey is not a valid Ed25519 key".to_string())?;
    if key.is_weak() {
        return Err("publicKey is a weak (small-order) Ed25519 key".into());
    }
    Ok(key)
}

pub fn parse_signature(hex_sig: &str) -> Result<Signature, String> {
    let bytes: [u8; 64] = hex::decode(hex_sig.trim())
        .map_err(|_| "signature must be hex".to_string())?
        .try_into()
        .map_err(|_| "signature must be 64 bytes (128 hex characters)".to_string())?;
    Ok(Signature::from_bytes(&bytes))
}

/// True when `signature` over `digest` verifies with `key`, strictly.
pub fn verifies(key: &VerifyingKey, digest: &[u8; 32], signature: &Signature) -> bool {
    !key.is_weak() && key.verify_strict(digest, signature).is_ok()
}

pub fn sign(key: &SigningKey, digest: &[u8; 32]) -> String {
    hex::encode(key.sign(digest).to_bytes())
}

pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// A publisher's key pair, as the CLI and the tests hold it.
pub struct AuthorKey(pub SigningKey);

impl AuthorKey {
    pub fn generate() -> AuthorKey {
        AuthorKey(generate())
    }

    pub fn public_hex(&self) -> String {
        hex::encode(self.0.verifying_key().to_bytes())
    }

    /// The hex signature over the SHA-256 digest of `bytes`.
    pub fn sign_component(&self, bytes: &[u8]) -> String {
        use sha2::Digest;
        sign(&self.0, &sha2::Sha256::digest(bytes).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let key = generate();
        let public = hex::encode(key.verifying_key().to_bytes());
        let digest = [7u8; 32];
        let sig = parse_signature(&sign(&key, &digest)).unwrap();
        let vk = parse_public_key(&public).unwrap();
        assert!(verifies(&vk, &digest, &sig));
        assert!(!verifies(&vk, &[8u8; 32], &sig), "another digest");
        assert!(!verifies(
            &parse_public_key(&hex::encode(generate().verifying_key().to_bytes())).unwrap(),
            &digest,
            &sig
        ));
        assert!(parse_public_key("zz").is_err());
        assert!(parse_signature("00").is_err());
    }

    #[test]
    fn weak_keys_and_forged_signatures_are_refused() {
        // The identity point (01 followed by zeros) and another small-order point.
        let identity = format!("01{}", "00".repeat(31));
        assert!(parse_public_key(&identity).unwrap_err().contains("weak"));
        let order_two = format!("ec{}7f", "ff".repeat(30));
        assert!(parse_public_key(&order_two).is_err());
        // With the identity key, the signature R = identity, s = 0 "verifies" non-strictly
        // for every message; strict verification refuses it.
        let bytes: [u8; 32] = hex::decode(&identity).unwrap().try_into().unwrap();
        let weak = VerifyingKey::from_bytes(&bytes).unwrap();
        let forged = parse_signature(&format!("01{}", "00".repeat(63))).unwrap();
        assert!(!verifies(&weak, &[9u8; 32], &forged));
    }
}
