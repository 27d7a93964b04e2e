//! What every test of Agora needs from outside the code under test: the guest components
//! from `guests/` (built once per test process by `scripts/build-guests.sh`) and fresh
//! scratch directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The repository's root directory: the parent of the crate cargo is running, read when the
/// test runs. Not `env!`: cargo fingerprints a crate by paths relative to the workspace, so a
/// build directory shared by two checkouts can hand one checkout a binary with the other's
/// path baked in.
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        crate_dir.parent().expect("every crate sits one level below the root").to_path_buf()
    })
}

/// A command that does not inherit the variables cargo sets for the crate under test: a
/// nested cargo that saw them would fingerprint build scripts differently and rebuild.
pub fn clean_command(program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

/// The bytes of `guests/dist/<name>.wasm`. The first call in a process runs
/// `scripts/build-guests.sh`, which rebuilds only what changed.
pub fn guest(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = clean_command(repo_root().join("scripts/build-guests.sh"))
            .current_dir(repo_root())
            .output()
            .expect("running scripts/build-guests.sh");
        assert!(
            out.status.success(),
            "building the guest components failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    let path = repo_root().join("guests/dist").join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A fresh, empty directory under the system temp dir, unique in this process.
pub fn fresh_dir(label: &str) -> PathBuf {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "agora-{label}-{}-{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}
