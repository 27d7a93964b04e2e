#!/usr/bin/env bash
# PostgreSQL's own floor for a deposit on this machine: pgbench (C, prepared statements) runs
# only the statements Agora sends for a deposit, on Agora's schema, with no HTTP server and no
# Rust client. What it reaches bounds what Agora can reach on the same cores.
# Run: scripts/with-postgres.sh bench/pg-floor/run.sh
set -euo pipefail
cd "$(dirname "$0")"
source ../../scripts/env.sh
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
agora=${AGORA_BIN:-$CARGO_TARGET_DIR/release/agora}
url="${AGORA_TEST_POSTGRES_URL%/*}/floor"
"$pgbin/psql" -q "$AGORA_TEST_POSTGRES_URL" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS floor" -c "CREATE DATABASE floor"
AGORA_DATABASE_URL=$url "$agora" migrate >/dev/null
"$pgbin/psql" -q "$url" <<'SQL'
INSERT INTO agents (id, name, slug, referral_code, created_at, updated_at)
  SELECT 'floor-' || n, 'floor-' || n, 'floor-' || n, 'floor-' || n, 0, 0 FROM generate_series(1, 512) n;
INSERT INTO accounts (id, kind, agent_id, created_at)
  SELECT 'wallet:floor-' || n, 'wallet', 'floor-' || n, 0 FROM generate_series(1, 512) n;
SQL
host=${url#postgres://agora@}; host=${host%%:*}; port=${url##*:}; port=${port%%/*}
socket=$AGORA_TEST_POSTGRES_SOCKET_DIR
seconds=${FLOOR_SECONDS:-10}
run() { # host or socket directory, script, clients, deposits per transaction
  local out tps
  out=$("$pgbin/pgbench" -n -M prepared -h "$1" -p "$port" -U agora -f "$2" -c "$3" -j 2 -T "$seconds" floor 2>&1) \
    || { echo "$out" >&2; exit 1; }
  tps=$(awk '/^tps/ {print $3}' <<<"$out")
  printf '| %s | %s | %s | %.0f |\n' "$([ "$1" = "$socket" ] && echo unix || echo tcp)" "$2" "$3" "$(awk -v t="$tps" -v n="$4" 'BEGIN {print t * n}')"
}
echo "| transport | script | clients | deposits/s |"
echo "|---|---|---:|---:|"
for h in "$host" "$socket"; do
  run "$h" deposit.sql 32 1
  run "$h" batch16.sql 1 16
  run "$h" batch16.sql 2 16
  run "$h" batch16-nosavepoints.sql 2 16
  run "$h" batch16-pipelined.sql 1 16
  run "$h" batch16-pipelined.sql 2 16
done
