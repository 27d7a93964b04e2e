#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on loopback: initdb into a temp dir,
# start on a free port, export AGORA_TEST_POSTGRES_URL (and AGORA_TEST_POSTGRES_SOCKET_DIR),
# run "$@", stop and delete the server.
# Extra server settings can be passed in PG_EXTRA_OPTS.
set -euo pipefail

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "PostgreSQL server binaries not found; run scripts/setup.sh" >&2; exit 1; }

dir=$(mktemp -d /tmp/agora-pg.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  # initdb and postgres refuse to run as root.
  chown postgres "$dir"
  as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" stop -m fast >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" "$pgbin/initdb" -D "$dir/data" -U agora --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 ${PG_EXTRA_OPTS:-}" >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export AGORA_TEST_POSTGRES_URL="postgres://agora@127.0.0.1:$port/postgres"
# The same server over its Unix socket, for comparisons (bench/pg-floor).
export AGORA_TEST_POSTGRES_SOCKET_DIR="$dir"
echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
"$@"
