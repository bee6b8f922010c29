// siamese-wasm: the package entry. It instantiates the WebAssembly module once, on import
// (top-level await), so users write `import { Verifier } from 'siamese-wasm'` and nothing
// else. Browsers and bundlers fetch the .wasm next to this file; Node.js reads it from disk.
import init, * as wasm from './siamese_wasm.js';

// Engines with relaxed SIMD get the build whose matrix kernels use fused multiply-add (a
// tenth to a sixth faster per embedding in Chromium, bench/README.md); others the simd128 build. The
// bytes are a one-function module using i8x16.relaxed_swizzle, which only such engines
// validate.
const relaxedSimd = WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]));
// Two literal URLs, so bundlers see and copy both files.
const wasmUrl = relaxedSimd ? new URL('./siamese_wasm_relaxed_bg.wasm', import.meta.url) : new URL('./siamese_wasm_bg.wasm', import.meta.url);
/** Which of the package's two WebAssembly builds this engine runs: 'relaxed-simd' or 'simd128'. */
export const wasmBuild = relaxedSimd ? 'relaxed-simd' : 'simd128';
const inNode = typeof process !== 'undefined' && !!process.versions?.node && wasmUrl.protocol === 'file:';

// A computed specifier keeps bundlers from trying to pack Node's fs into a browser build.
const nodeFs = 'node:fs/promises';
const readFile = inNode ? (await import(/* @vite-ignore */ nodeFs)).readFile : null;

if (inNode) {
  await init({ module_or_path: await readFile(wasmUrl) });
} else {
  await init({ module_or_path: wasmUrl });
}

export const { Verifier, similarity, calibrate, warmUp } = wasm;

/**
 * URLs of the models shipped in this package: pass one to `Verifier.load`. `face` is
 * face-api.js's pretrained recogniser (converted), which works on found, aligned faces:
 * `Verifier.load(models.face)` brings the shipped detector and landmark models with it.
 * `faceTrained` is the small face encoder trained by this repository on whole pictures.
 */
export const models = Object.freeze({
  signature: new URL('./models/signature.onnx', import.meta.url).href,
  face: new URL('./models/face-recognition.onnx', import.meta.url).href,
  faceTrained: new URL('./models/face.onnx', import.meta.url).href,
  faceDetector: new URL('./models/face-detector.onnx', import.meta.url).href,
  faceLandmarks: new URL('./models/face-landmarks.onnx', import.meta.url).href,
});

// Node's fetch() does not read file: URLs, and the package's models are files there: read
// them from disk so `Verifier.load(models.signature)` works in Node too.
const fromDisk = async (model) => {
  if (!inNode) return model;
  const url = model instanceof URL ? model : typeof model === 'string' && model.startsWith('file:') ? new URL(model) : null;
  return url && url.protocol === 'file:' ? readFile(url) : model;
};

const load = Verifier.load.bind(Verifier);
Verifier.load = async (model, options) => {
  let faces = options?.faces;
  // The default face model needs its face finder; `faces: false` asks for whole pictures.
  if (faces === undefined && model === models.face) faces = { detector: models.faceDetector, landmarks: models.faceLandmarks };
  const opts = faces && typeof faces === 'object'
    ? { ...options, faces: { detector: await fromDisk(faces.detector), landmarks: await fromDisk(faces.landmarks) } }
    : options;
  return load(await fromDisk(model), opts);
};
