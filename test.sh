#!/usr/bin/env bash
# Runs every test of the project. Tests that need ../shared/data skip with a message
# when it is absent. Release profile: the trainer's tests train small networks, and one
# optimised build serves the tests and the tools.
set -euo pipefail
cd "$(dirname "$0")"
cargo test --release --workspace -- --nocapture
