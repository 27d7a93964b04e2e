# Sourced by the scripts: where cargo builds. A persistent directory outside the checkout, so
# that a fresh clone (CI's) reuses what an earlier run on this machine built. Override with
# CARGO_TARGET_DIR or AGORA_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${AGORA_TARGET_DIR:-$HOME/.cache/agora/target}}"
mkdir -p "$CARGO_TARGET_DIR"
