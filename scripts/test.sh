#!/usr/bin/env bash
# The whole test suite: build once (host, runtime, tests, bench, guest components), the unit
# tests and the end-to-end suite on SQLite, the end-to-end suite again on a throwaway
# PostgreSQL server, the guest components' unit tests, formatting and lints, then API fuzzing
# from the OpenAPI document. Prints how long each phase took.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

started=$SECONDS
phase_started=$SECONDS
timings=()
phase() {
  if [ ${#timings[@]} -gt 0 ] || [ -n "${current:-}" ]; then
    timings+=("$(printf '%-44s %5ds' "$current" $((SECONDS - phase_started)))")
  fi
  current="$1"
  phase_started=$SECONDS
  echo "== $1" >&2
}
report() {
  timings+=("$(printf '%-44s %5ds' "$current" $((SECONDS - phase_started)))")
  echo "== test suite phases (target dir $CARGO_TARGET_DIR)" >&2
  printf '%s\n' "${timings[@]}" >&2
  printf '%-44s %5ds\n' "total" $((SECONDS - started)) >&2
}

phase "setup"
scripts/setup.sh
phase "build (workspace, all targets)"
cargo build --workspace --all-targets --locked
phase "build guest components"
scripts/build-guests.sh >/dev/null
export AGORA_BIN="$CARGO_TARGET_DIR/debug/agora"

phase "unit tests and end-to-end tests on SQLite"
AGORA_TEST_BACKEND=sqlite cargo test --workspace --locked

phase "end-to-end tests on PostgreSQL"
scripts/with-postgres.sh env AGORA_TEST_BACKEND=postgres cargo test --workspace --locked --test api

phase "guest components' unit tests"
cargo test --manifest-path sdk-guest/Cargo.toml --locked --all-features
cargo test --manifest-path guests/Cargo.toml --locked

phase "formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -q -- -D warnings

phase "API fuzzing (schemathesis)"
scripts/fuzz-api.sh
report
