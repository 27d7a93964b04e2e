#!/usr/bin/env bash
# Creates the next migration in both dialects at once:
#   scripts/new-migration.sh short_name
# writes migrations/sqlite/NNNN_short_name.sql and migrations/postgres/NNNN_short_name.sql with
# the same header. Write the same statements in both; the test `migrations_agree` allows only
# the dialect differences it lists (type names, trigger syntax, LEAST/GREATEST, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/new-migration.sh short_name}
[[ "$name" =~ ^[a-z0-9_]+$ ]] || { echo "the name may hold a-z, 0-9 and _ only" >&2; exit 1; }
last=$(ls migrations/sqlite | sed -n 's/^\([0-9]\{4\}\)_.*\.sql$/\1/p' | sort | tail -n 1)
next=$(printf '%04d' $((10#${last:-0} + 1)))
for dialect in sqlite postgres; do
  file="migrations/$dialect/${next}_${name}.sql"
  [ -e "$file" ] && { echo "$file exists" >&2; exit 1; }
  printf -- '-- %s\n\n' "${name//_/ }" > "$file"
  echo "$file"
done
