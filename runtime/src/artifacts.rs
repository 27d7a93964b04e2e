//! Compiled components on disk, so that a restarted host does not compile again.
//!
//! A file is `<cache_dir>/<digest>-<engine hash>.cwasm`, where the engine hash covers
//! everything that makes compiled code compatible (wasmtime version, settings, CPU
//! features): another engine never finds, let alone loads, a file it cannot run.
//!
//! The directory is bounded: after each write, the least recently used artifacts (by
//! modification time, which a load refreshes) are removed until the total fits the budget.

use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::component::Component;
use wasmtime::Engine;

pub(crate) struct ArtifactCache {
    dir: PathBuf,
    engine_hash: String,
    budget_bytes: u64,
}

const EXTENSION: &str = "cwasm";

impl ArtifactCache {
    pub(crate) fn new(dir: &Path, engine: &Engine, budget_bytes: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..8]);
        Ok(ArtifactCache { dir: dir.to_path_buf(), engine_hash, budget_bytes })
    }

    /// The size of the artifact for `digest`, if there is one.
    pub(crate) fn size(&self, digest: &str) -> Option<usize> {
        std::fs::metadata(self.path(digest)).ok().map(|m| m.len() as usize)
    }

    fn path(&self, digest: &str) -> PathBuf {
        self.dir.join(format!("{}-{}.{EXTENSION}", file_stem(digest), self.engine_hash))
    }

    /// The compiled component for `digest`, if this engine wrote one. A file that does not
    /// load (damaged, or from an incompatible build) is removed and reported as absent.
    pub(crate) fn load(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest);
        if !path.is_file() {
            return None;
        }
        // SAFETY: only files this cache wrote (from `Component::serialize` by an engine with
        // the same compatibility hash) are at these paths; the cache directory is ours.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                touch(&path);
                Some(component)
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "removing unusable compiled component: {e:#}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Writes the compiled component atomically: to a temporary file, then renamed.
    pub(crate) fn store(&self, digest: &str, component: &Component) -> anyhow::Result<()> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let bytes = component.serialize()?;
        let path = self.path(digest);
        let temp =
            path.with_extension(format!("tmp-{}-{}", std::process::id(), SEQUENCE.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&temp, bytes)?;
        if let Err(e) = std::fs::rename(&temp, &path) {
            let _ = std::fs::remove_file(&temp);
            return Err(e.into());
        }
        self.trim(&path);
        Ok(())
    }

    /// Removes the least recently used artifacts (never `keep`) until the rest fit the budget.
    fn trim(&self, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == EXTENSION))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|(_, len, _)| len).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.budget_bytes {
                break;
            }
            if path != keep && std::fs::remove_file(&path).is_ok() {
                total -= len;
                tracing::debug!(path = %path.display(), "removed a least recently used compiled component");
            }
        }
    }
}

/// Marks an artifact as just used.
fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(std::time::SystemTime::now());
    }
}

/// The digest itself when it is a plain file name, else its sha256.
fn file_stem(digest: &str) -> String {
    let plain = !digest.is_empty()
        && digest.len() <= 128
        && digest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        digest.to_string()
    } else {
        hex::encode(Sha256::digest(digest.as_bytes()))
    }
}

/// Feeds `Hash` output into sha256, which (unlike `DefaultHasher`) is stable across builds.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_become_safe_file_names() {
        assert_eq!(file_stem("abc123"), "abc123");
        let hashed = file_stem("../../etc/passwd");
        assert_eq!(hashed.len(), 64);
        assert!(hashed.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(file_stem("sha256:ab").len(), 64);
        assert_eq!(file_stem("").len(), 64);
    }
}
