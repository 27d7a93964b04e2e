#!/usr/bin/env bash
# Builds the components in guests/ for wasm32-wasip2 and copies them to
# guests/dist/<name>.wasm. Safe to run again: cargo rebuilds only what changed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
guests="$root/guests"
target=wasm32-wasip2
target_dir="${CARGO_TARGET_DIR:-$guests/target}"
case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
dist="$guests/dist"

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$target"; then
    echo "adding rust target $target"
    rustup target add "$target"
fi

cargo build --release --target "$target" \
    --manifest-path "$guests/Cargo.toml" --target-dir "$target_dir"

# Workspace members, from the [workspace] members list.
members=$(sed -n '/^members = \[/,/^\]/{s/^ *"\([^"]*\)",\{0,1\}$/\1/p}' "$guests/Cargo.toml")

mkdir -p "$dist"
# A component starts with "\0asm" and the component-model layer/version 0d 00 01 00;
# a core module would have 01 00 00 00 there.
component_magic="0061736d0d000100"
status=0
for member in $members; do
    name=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$guests/$member/Cargo.toml" | head -n1)
    built="$target_dir/$target/release/${name//-/_}.wasm"
    if [ ! -f "$built" ]; then
        echo "missing $built" >&2
        status=1
        continue
    fi
    magic=$(head -c 8 "$built" | od -An -tx1 | tr -d ' \n')
    if [ "$magic" != "$component_magic" ]; then
        echo "$built is not a component (header $magic)" >&2
        status=1
        continue
    fi
    cp "$built" "$dist/$name.wasm.tmp"
    mv "$dist/$name.wasm.tmp" "$dist/$name.wasm"
    printf '%-12s %8d bytes  %s\n' "$name" "$(wc -c <"$dist/$name.wasm")" "guests/dist/$name.wasm"
done
exit "$status"
