//! Random tokens, hashes of secrets, HMAC signatures, the host's long-lived keys, and secrets
//! sealed at rest: the one place that makes or checks a secret.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `len` random letters and digits from the OS-seeded thread RNG.
pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// Hex SHA-256 of a high-entropy secret (API keys, claim tokens): stored instead of it.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secrets (or their hashes) in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Hex HMAC-SHA256 of `body` under `secret`.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret, &[body]))
}

/// HMAC-SHA256 of the concatenated `parts` under `secret`.
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// `len` bytes from the OS-seeded thread RNG.
pub fn random_bytes(len: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes
}

/// A 32-byte key: `configured` (base64; `setting` names it in errors), or the one kept in
/// `<data_dir>/<file>`, made there at first start. Every host of one database needs the same.
pub fn key_32(configured: &str, setting: &str, data_dir: &Path, file: &str) -> anyhow::Result<[u8; 32]> {
    match configured.trim() {
        "" => key_in(&data_dir.join(file), data_dir),
        text => decode_key(text).map_err(|e| anyhow::anyhow!("{setting}: {e}")),
    }
}

fn decode_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD.decode(text).map_err(|_| "not base64")?;
    bytes.try_into().map_err(|_| "must be 32 bytes".to_string())
}

fn key_in(path: &Path, data_dir: &Path) -> anyhow::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return decode_key(text.trim()).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
    }
    std::fs::create_dir_all(data_dir)?;
    let key: [u8; 32] = random_bytes(32).try_into().expect("32 bytes");
    write_private(path, &STANDARD.encode(key))?;
    Ok(key)
}

/// Writes a new file only its owner may read; fails if it exists (another process made it
/// first: the caller reads that one on its next start).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// Seals secrets kept in the database (provider keys, endpoint headers) with XChaCha20-Poly1305
/// under the host's secrets key. A sealed value is `v1.` and base64 of a random 24-byte nonce
/// and the ciphertext; `context` (the row it belongs to) is authenticated with it, so a sealed
/// value copied into another row does not open.
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

const SEALED_PREFIX: &str = "v1.";

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> SecretBox {
        SecretBox { cipher: XChaCha20Poly1305::new(key.into()) }
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let nonce = random_bytes(24);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 seals any length this host stores");
        format!("{SEALED_PREFIX}{}", STANDARD.encode([nonce, sealed].concat()))
    }

    /// The plaintext, or an error when the value was not sealed by this key for this context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, &'static str> {
        let bytes = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > 24)
            .ok_or("not a sealed value")?;
        let (nonce, ciphertext) = bytes.split_at(24);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: context.as_bytes() })
            .map_err(|_| "the secret does not open with this host's secrets key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let sealer = SecretBox::new(&[3; 32]);
        let sealed = sealer.seal(b"sk-ant-secret", "provider_key:1");
        assert!(!sealed.contains("sk-ant"));
        assert_ne!(sealer.seal(b"sk-ant-secret", "provider_key:1"), sealed, "a fresh nonce every time");
        assert_eq!(sealer.open(&sealed, "provider_key:1").unwrap(), b"sk-ant-secret");
        assert!(sealer.open(&sealed, "provider_key:2").is_err());
        assert!(SecretBox::new(&[4; 32]).open(&sealed, "provider_key:1").is_err());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(sealer.open(std::str::from_utf8(&tampered).unwrap(), "provider_key:1").is_err());
        assert!(sealer.open("plain", "provider_key:1").is_err());
    }

    #[test]
    fn a_key_is_made_once_in_the_data_dir_and_kept() {
        let dir = std::env::temp_dir().join(format!("agora-key-{}", random_token(8)));
        let first = key_32("", "secrets_key", &dir, "secrets.key").unwrap();
        assert_eq!(key_32("", "secrets_key", &dir, "secrets.key").unwrap(), first);
        let configured = STANDARD.encode([9u8; 32]);
        assert_eq!(key_32(&configured, "secrets_key", &dir, "secrets.key").unwrap(), [9; 32]);
        assert!(key_32("c2hvcnQ=", "secrets_key", &dir, "secrets.key").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn hmac_is_the_standard_one() {
        // The well-known HMAC-SHA256 test vector.
        assert_eq!(
            hmac_sha256_hex(b"key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn tokens_and_hashes() {
        let t = random_token(40);
        assert_eq!(t.len(), 40);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(random_token(40), t);
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd"));
    }
}
