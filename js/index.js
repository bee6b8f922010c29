// siamese-wasm: the package entry. It instantiates the WebAssembly module once, on import
// (top-level await), so users write `import { Verifier } from 'siamese-wasm'` and nothing
// else. Browsers and bundlers fetch the .wasm next to this file; Node.js reads it from disk.
import init, * as wasm from './siamese_wasm.js';

const wasmUrl = new URL('./siamese_wasm_bg.wasm', import.meta.url);
const inNode = typeof process !== 'undefined' && !!process.versions?.node && wasmUrl.protocol === 'file:';

// A computed specifier keeps bundlers from trying to pack Node's fs into a browser build.
const nodeFs = 'node:fs/promises';
const readFile = inNode ? (await import(/* @vite-ignore */ nodeFs)).readFile : null;

if (inNode) {
  await init({ module_or_path: await readFile(wasmUrl) });
} else {
  await init({ module_or_path: wasmUrl });
}

export const { Verifier, similarity, calibrate } = wasm;

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
