#!/usr/bin/env bash
# Benchmarks the release binary over loopback on SQLite and on a throwaway PostgreSQL
# server (default durability settings), then rewrites the generated table in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

cargo build --release -p agora-host -p agora-bench
export AGORA_BIN="$CARGO_TARGET_DIR/release/agora"
out=$(mktemp -d /tmp/agora-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
bench="$CARGO_TARGET_DIR/release/agora-bench"
args=(--concurrency "${BENCH_CONCURRENCY:-32}" --requests "${BENCH_REQUESTS:-4000}")

"$bench" measure --backend sqlite --out "$out/sqlite.json" "${args[@]}"
scripts/with-postgres.sh "$bench" measure --backend postgres --out "$out/postgres.json" "${args[@]}"
"$bench" skills --backend sqlite --out "$out/skills-sqlite.json" "${args[@]}"
scripts/with-postgres.sh "$bench" skills --backend postgres --out "$out/skills-postgres.json" "${args[@]}"
"$bench" runtime --out "$out/runtime.json"
# Webhook deliveries: printed, and copied into docs/benchmarks.md by hand.
"$bench" webhooks --backend sqlite
scripts/with-postgres.sh "$bench" webhooks --backend postgres
# The model gateway's added latency: printed, copied by hand too.
"$bench" gateway --backend sqlite
scripts/with-postgres.sh "$bench" gateway --backend postgres
# Guardrail checks and enforcement: printed, copied by hand too.
"$bench" guardrails --backend sqlite
scripts/with-postgres.sh "$bench" guardrails --backend postgres
# Messaging: a Wasm handler's reply against `sh -c` per message, and SSE fan-out; printed too.
"$bench" messaging --backend sqlite
scripts/with-postgres.sh "$bench" messaging --backend postgres
# PostgreSQL alone running a deposit's statements (pgbench): printed, copied by hand too.
scripts/with-postgres.sh bench/pg-floor/run.sh
"$bench" report --doc docs/benchmarks.md --runtime "$out/runtime.json" "$out/sqlite.json" "$out/postgres.json" \
    "$out/skills-sqlite.json" "$out/skills-postgres.json"
echo "docs/benchmarks.md updated" >&2
