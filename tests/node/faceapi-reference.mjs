// face-api.js itself (the npm package @vladmandic/face-api on TensorFlow.js's CPU backend,
// in Node): the reference our converted face networks must agree with. Used by the
// reference test and by scripts/faceapi-reference.mjs, which writes the networks' outputs
// for the synthetic inputs below to tests/fixtures/faceapi-descriptors.json for the Rust
// test of the converter (train/tests/faceapi.rs).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const root = fileURLToPath(new URL('../../', import.meta.url));
export const packageDir = `${root}node_modules/@vladmandic/face-api/`;
export const SIZE = 150;
/** Input sides of the converted detector (siamese-train convert-faceapi's default) and
 * landmark net. */
export const DETECTOR_SIZE = 128;
export const LANDMARKS_SIZE = 112;

/** Loads face-api.js's recogniser, tiny face detector and tiny landmark net from the
 * package's own weight files. */
export async function loadRecognizer() {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
  const tf = faceapi.tf;
  await tf.setBackend('cpu');
  await tf.ready();
  const load = (net, name) => {
    const manifest = JSON.parse(readFileSync(`${packageDir}model/${name}-weights_manifest.json`, 'utf8'));
    const bytes = Buffer.concat(manifest.flatMap((g) => g.paths.map((p) => readFileSync(`${packageDir}model/${p}`))));
    net.loadFromWeightMap(tf.io.decodeWeights(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), manifest.flatMap((g) => g.weights)));
  };
  load(faceapi.nets.faceRecognitionNet, 'face_recognition_model');
  load(faceapi.nets.tinyFaceDetector, 'tiny_face_detector_model');
  load(faceapi.nets.faceLandmark68TinyNet, 'face_landmark_68_tiny_model');
  const version = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8')).version;
  const raw = async (run, hwc, size) => {
    const t = tf.tensor3d(hwc, [size, size, 3], 'float32');
    const out = await run(t);
    const v = Array.from(await out.data());
    t.dispose();
    out.dispose();
    return v;
  };
  return {
    version,
    tf: tf.version_core,
    faceapi,
    /** The detector's raw output (NHWC: cells x 5 anchors x (x, y, w, h, score) logits)
     * for a DETECTOR_SIZE square picture, HWC 0-255. */
    detectorRaw: (hwc) => raw((t) => faceapi.nets.tinyFaceDetector.forward(t, DETECTOR_SIZE), hwc, DETECTOR_SIZE),
    /** The landmark net's output (x, y of 68 points relative to the side) for a
     * LANDMARKS_SIZE square picture. */
    landmarksRaw: (hwc) => raw((t) => faceapi.nets.faceLandmark68TinyNet.forward(t), hwc, LANDMARKS_SIZE),
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
export function syntheticPixels(k, size = SIZE) {
  const hwc = new Float32Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      for (let c = 0; c < 3; c++) {
        const stripes = Math.sin(0.05 * (k + 1) * x + 0.031 * (c + 1) * y + k);
        const dx = x - 40 - 15 * k;
        const dy = y - 60 - 7 * c;
        const disc = dx * dx + dy * dy < 900 ? 0.6 : 0;
        hwc[(y * size + x) * 3 + c] = Math.round(255 * Math.min(1, Math.max(0, 0.35 + 0.3 * stripes + disc)));
      }
    }
  }
  return hwc;
}

export const SYNTHETIC = 5;

/** HWC 0-255 to the converted model's input: planes R, G, B, each row-major, in [0, 1]. */
export function toPlanar(hwc, size = SIZE) {
  const n = size * size;
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
