#!/usr/bin/env bash
# Runs every test of the project:
#  1. native: the core, the trainer, the shipped models re-evaluated (tests that need
#     ../shared/data skip with a message when it is absent);
#  2. in headless Chromium through wasm-bindgen-test: the wasm build against native
#     tract, the IndexedDB store, error codes, export/import;
#  3. the npm package built by build.sh, in Node and in Chromium (playwright-core).
# Installs what it needs first (scripts/setup.sh). Optimised builds throughout: the
# trainer's tests train small networks and tract is slow unoptimised. Native tests use the
# `test-release` profile (release without link-time optimisation, see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --browser

echo "== native tests"
cargo test --profile test-release --workspace -- --nocapture

echo "== in-browser tests (wasm-bindgen-test, headless Chromium)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver} \
WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-300} \
  cargo test --profile wasm --target wasm32-unknown-unknown --test web

echo "== the npm package (Node and Chromium)"
./build.sh
node --test tests/node/ tests/e2e/
