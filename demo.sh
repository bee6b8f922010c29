#!/usr/bin/env bash
# Sets up, builds the package (pkg/) and serves the demo (www/) on the shipped models at
# http://127.0.0.1:${PORT:-8080}/ . Camera access needs this localhost address (or https).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
[ -d node_modules/signature_pad ] || npm ci --no-audit --no-fund
./build.sh
exec node scripts/serve.mjs "${PORT:-8080}"
