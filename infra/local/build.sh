#!/usr/bin/env bash
# Builds Lambda bundles (target/lambda/<function>/bootstrap) with cargo-lambda and prints their sizes.
# Usage: build.sh ARCH FUNCTION...   (ARCH: arm64 | x86_64)
set -euo pipefail
arch="$1"; shift
case "$arch" in
  arm64|aarch64) triple=aarch64-unknown-linux-gnu; flag=--arm64 ;;
  x86_64|x86-64|amd64) triple=x86_64-unknown-linux-gnu; flag=--x86-64 ;;
  *) echo "make build: ARCH must be arm64 or x86_64, got '$arch'" >&2; exit 2 ;;
esac
if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
  host=$(rustc -vV | sed -n 's/^host: //p')
  if [ "$host" != "$triple" ]; then
    cat >&2 <<MSG
make build: the Rust target $triple (for ARCH=$arch) is not installed in this toolchain.
  Add it with:   rustup target add $triple
  or build for this machine's architecture instead:   make build ARCH=x86_64
MSG
    exit 2
  fi
fi
# Every function template.yaml deploys must be in the list: a missing one would be deployed
# stale, or not at all.
template="$(dirname "$0")/../../template.yaml"
if [ -f "$template" ]; then
  missing=()
  for b in $(sed -n 's/^ *Binary: *//p' "$template"); do
    [[ " $* " == *" $b "* ]] || missing+=("$b")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "make build: template.yaml deploys ${missing[*]}, which the build list ($*) misses" >&2
    exit 2
  fi
fi
command -v cargo-lambda >/dev/null || { echo "make build: cargo-lambda not found (run 'make venv')" >&2; exit 2; }
bins=()
for f in "$@"; do bins+=(--bin "$f"); done
cargo lambda build --release "$flag" "${bins[@]}"
echo
printf '%-16s %12s  %s\n' function bytes path
for f in "$@"; do
  p="target/lambda/$f/bootstrap"
  [ -f "$p" ] || { echo "make build: expected $p was not produced" >&2; exit 1; }
  printf '%-16s %12s  %s\n' "$f" "$(stat -c %s "$p")" "$p"
done
