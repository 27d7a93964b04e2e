#!/usr/bin/env bash
# The whole test suite: build (host, tests, guest components), unit tests and the end-to-end
# suite on SQLite, the end-to-end suite again on a throwaway PostgreSQL server, the guest
# components' unit tests, formatting and lints, then API fuzzing from the OpenAPI document.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "== build" >&2
cargo build --workspace --all-targets --locked
scripts/build-guests.sh
export AGORA_BIN="$PWD/target/debug/agora"

echo "== unit tests and end-to-end tests on SQLite" >&2
AGORA_TEST_BACKEND=sqlite cargo test --workspace --locked

echo "== end-to-end tests on PostgreSQL" >&2
scripts/with-postgres.sh env AGORA_TEST_BACKEND=postgres cargo test -p agora-e2e --locked

echo "== guest components' unit tests" >&2
cargo test --manifest-path sdk-guest/Cargo.toml --locked
cargo test --manifest-path guests/Cargo.toml --locked

echo "== lints" >&2
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -q -- -D warnings

echo "== API fuzzing (schemathesis) against the OpenAPI document" >&2
scripts/fuzz-api.sh
