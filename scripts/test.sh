#!/usr/bin/env bash
# The whole test suite: unit tests, then the end-to-end suite on SQLite, then again on a
# throwaway PostgreSQL server, then the guest components and their unit tests, then the API
# fuzzing from the OpenAPI document.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "== build" >&2
cargo build --workspace --all-targets --locked

echo "== unit tests and end-to-end tests on SQLite" >&2
AGORA_TEST_BACKEND=sqlite cargo test --workspace --locked

echo "== end-to-end tests on PostgreSQL" >&2
scripts/with-postgres.sh env AGORA_TEST_BACKEND=postgres cargo test -p agora-e2e --locked

echo "== guest components (wasm32-wasip2) and their unit tests" >&2
scripts/build-guests.sh
cargo test --manifest-path sdk-guest/Cargo.toml --locked
cargo test --manifest-path guests/Cargo.toml --locked

echo "== API fuzzing (schemathesis) against the OpenAPI document" >&2
scripts/fuzz-api.sh
