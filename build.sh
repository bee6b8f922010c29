#!/usr/bin/env bash
# Builds pkg/, the npm package: the wasm (simd128, and a relaxed-SIMD twin), its ES module and TypeScript types, the
# entry module (js/), and the shipped models. `npm install path/to/pkg` installs it.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh

target_dir=${CARGO_TARGET_DIR:-target}
cargo build --profile wasm --target wasm32-unknown-unknown --lib
# A second build with relaxed SIMD as well, in a target directory of its own (other
# RUSTFLAGS would rebuild everything each time): tract-linalg's matrix kernels then use fused
# multiply-add (f32x4.relaxed_madd). js/index.js loads it where the engine validates relaxed
# SIMD (Chrome and Edge since 114) and the simd128 build elsewhere (Node 20, and browsers
# without relaxed SIMD).
RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" \
  cargo build --profile wasm --target wasm32-unknown-unknown --lib --target-dir "$target_dir/relaxed-simd"
rm -rf pkg && mkdir -p pkg/models
# The name section (function names, 1.9 MB) only serves debuggers.
bindgen() { wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir "$2" --out-name siamese_wasm "$1"; }
bindgen "$target_dir/wasm32-unknown-unknown/wasm/siamese_wasm.wasm" pkg
relaxed_out=$(mktemp -d)
bindgen "$target_dir/relaxed-simd/wasm32-unknown-unknown/wasm/siamese_wasm.wasm" "$relaxed_out"
# One JavaScript glue serves both modules only if wasm-bindgen wrote the same glue for each.
# Its "Cast intrinsic" comments quote function-table indices, which may differ between the
# builds; the code beside them calls the module's exports by name.
glue() { grep -v '^ *// Cast intrinsic for ' "$1"; }
if ! cmp -s <(glue pkg/siamese_wasm.js) <(glue "$relaxed_out/siamese_wasm.js"); then
  echo "build: the relaxed-SIMD build's JavaScript glue differs from the simd128 build's" >&2
  exit 1
fi
mv "$relaxed_out/siamese_wasm_bg.wasm" pkg/siamese_wasm_relaxed_bg.wasm
rm -rf "$relaxed_out"

optimise() {
  local wasm=$1
  # Debian's binaryen may predate features rustc now emits by default; keep the unoptimised
  # file when it cannot read it.
  if wasm-opt -O3 --enable-simd --enable-relaxed-simd --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
       --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
       "$wasm" -o "$wasm.opt" >/tmp/siamese-wasm-opt.log 2>&1; then
    mv "$wasm.opt" "$wasm"
  else
    echo "build: wasm-opt could not process $wasm (kept unoptimised): $(head -c 300 /tmp/siamese-wasm-opt.log)"
    rm -f "$wasm.opt"
  fi
}
if command -v wasm-opt >/dev/null; then
  optimise pkg/siamese_wasm_bg.wasm
  optimise pkg/siamese_wasm_relaxed_bg.wasm
else
  echo "build: no wasm-opt on PATH; skipping (apt-get install binaryen)"
fi

cp js/index.js js/index.d.ts pkg/
cp models/signature.onnx models/face.onnx models/face-recognition.onnx models/face-detector.onnx models/face-landmarks.onnx pkg/models/
cp README.md pkg/
version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)
cat > pkg/package.json <<JSON
{
  "name": "siamese-wasm",
  "version": "$version",
  "description": "In-browser face and signature verification: a Siamese encoder run by tract in WebAssembly, enrolments in IndexedDB",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "./index.js",
  "module": "./index.js",
  "types": "./index.d.ts",
  "exports": {
    ".": { "types": "./index.d.ts", "default": "./index.js" },
    "./models/*": "./models/*",
    "./siamese_wasm_bg.wasm": "./siamese_wasm_bg.wasm",
    "./siamese_wasm_relaxed_bg.wasm": "./siamese_wasm_relaxed_bg.wasm",
    "./package.json": "./package.json"
  },
  "files": ["index.js", "index.d.ts", "siamese_wasm.js", "siamese_wasm.d.ts", "siamese_wasm_bg.wasm", "siamese_wasm_relaxed_bg.wasm", "siamese_wasm_bg.wasm.d.ts", "models/", "README.md"],
  "sideEffects": ["./index.js"],
  "keywords": ["webassembly", "siamese", "face-verification", "signature-verification", "onnx", "tract", "indexeddb"]
}
JSON
for wasm in pkg/siamese_wasm_bg.wasm pkg/siamese_wasm_relaxed_bg.wasm; do
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "build: $wasm is $raw bytes raw, $gz bytes gzipped ($(awk "BEGIN { printf \"%.2f MB / %.2f MB\", $raw/1e6, $gz/1e6 }"))"
done
echo "build: pkg/ ready"
