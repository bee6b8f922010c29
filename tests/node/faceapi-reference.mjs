// face-api.js itself (the npm package @vladmandic/face-api on TensorFlow.js's CPU backend,
// in Node): the reference our converted face recogniser must agree with. Used by the
// reference test and by scripts/faceapi-reference.mjs, which writes the descriptors of the
// synthetic inputs below to tests/fixtures/faceapi-descriptors.json for the Rust test of
// the converter (train/tests/faceapi.rs).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const root = fileURLToPath(new URL('../../', import.meta.url));
export const packageDir = `${root}node_modules/@vladmandic/face-api/`;
export const SIZE = 150;

/** Loads face-api.js's recogniser from the package's own weight files. */
export async function loadRecognizer() {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const tf = faceapi.tf;
  await tf.setBackend('cpu');
  await tf.ready();
  const manifest = JSON.parse(readFileSync(`${packageDir}model/face_recognition_model-weights_manifest.json`, 'utf8'));
  const shards = manifest.flatMap((g) => g.paths.map((p) => readFileSync(`${packageDir}model/${p}`)));
  const bytes = Buffer.concat(shards);
  const weights = tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), manifest.flatMap((g) => g.weights));
  faceapi.nets.faceRecognitionNet.loadFromWeightMap(weights);
  const version = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8')).version;
  return {
    version,
    tf: tf.version_core,
    /** The descriptor of a 150x150 RGB picture given as HWC 0-255 values. */
    async describe(hwc) {
      return this.describeImage(hwc, SIZE, SIZE);
    },
    /** The descriptor of any RGB picture (HWC 0-255): face-api.js pads it to a square and
     * resizes it to 150x150 itself. */
    async describeImage(hwc, height, width) {
      const t = tf.tensor3d(hwc, [height, width, 3], 'float32');
      const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t);
      t.dispose();
      return Array.from(d);
    },
  };
}

/**
 * Synthetic picture `k`: 150x150 RGB, integer 0-255 values from a fixed formula (smooth
 * stripes and a bright disc whose place and colour depend on k). The Rust test computes
 * the same pixels; integers keep both sides exactly equal.
 */
export function syntheticPixels(k) {
  const hwc = new Float32Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      for (let c = 0; c < 3; c++) {
        const stripes = Math.sin(0.05 * (k + 1) * x + 0.031 * (c + 1) * y + k);
        const dx = x - 40 - 15 * k;
        const dy = y - 60 - 7 * c;
        const disc = dx * dx + dy * dy < 900 ? 0.6 : 0;
        hwc[(y * SIZE + x) * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, 0.35 + 0.3 * stripes + disc)));
      }
    }
  }
  return hwc;
}

export const SYNTHETIC = 5;

/** HWC 0-255 to the converted model's input: planes R, G, B, each row-major, in [0, 1]. */
export function toPlanar(hwc) {
  const n = SIZE * SIZE;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = hwc[i * 3 + c] / 255;
  return out;
}

export function cosine(a, b) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}
