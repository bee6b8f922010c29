#!/usr/bin/env bash
# Installs what building and testing need, idempotently: the wasm32 target, the
# wasm-bindgen-cli whose version Cargo.lock pins, and (with --browser) Debian's Chromium,
# chromedriver and binaryen (wasm-opt), plus the npm dev dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$have" != "$want" ]; then
  echo "setup: installing wasm-bindgen-cli $want (have '${have:-none}')"
  # Not --locked: the registry mirror here lacks one of its locked transitive versions.
  cargo install wasm-bindgen-cli --version "$want"
fi

if [ "${1:-}" = "--browser" ]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  command -v wasm-opt >/dev/null || missing+=(binaryen)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} from Debian"
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
  fi
  # npm ci leaves node_modules/.package-lock.json newer than package-lock.json; a changed
  # lock file (a new dev dependency) installs again.
  [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
fi
