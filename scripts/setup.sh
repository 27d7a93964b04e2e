#!/usr/bin/env bash
# Installs what building, running and testing Agora needs on a fresh Debian machine with a
# Rust toolchain (rustup). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v cargo >/dev/null || { log "cargo not found: install Rust with rustup first"; exit 1; }

# Guests are WebAssembly components.
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx wasm32-wasip2; then
  log "adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

# PostgreSQL server binaries, for the PostgreSQL half of the test suite and benchmarks.
apt_updated=""
need_pkg() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need_pkg postgresql
fi
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home postgres
fi
command -v python3 >/dev/null || need_pkg python3 python3-venv

# Python test clients, in a virtualenv of the project's own.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  log "creating .venv"
  python3 -m venv .venv || { need_pkg python3-venv; python3 -m venv .venv; }
fi
if ! cmp -s tests/python/requirements.txt .venv/.requirements-installed 2>/dev/null; then
  log "installing Python test clients"
  .venv/bin/pip install -q --disable-pip-version-check -r tests/python/requirements.txt
  cp tests/python/requirements.txt .venv/.requirements-installed
fi
# The A2A 0.3 client cannot share a virtualenv with the 1.x one: it has one of its own.
if [ ! -x .venv-a2a-0.3/bin/python ] || ! .venv-a2a-0.3/bin/python -c 'import sys' 2>/dev/null; then
  log "creating .venv-a2a-0.3"
  python3 -m venv .venv-a2a-0.3
fi
if ! cmp -s tests/python/requirements-a2a-0.3.txt .venv-a2a-0.3/.requirements-installed 2>/dev/null; then
  log "installing the A2A 0.3 test client"
  .venv-a2a-0.3/bin/pip install -q --disable-pip-version-check -r tests/python/requirements-a2a-0.3.txt
  cp tests/python/requirements-a2a-0.3.txt .venv-a2a-0.3/.requirements-installed
fi
log "ready"
