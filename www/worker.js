// The encoder lives here, off the page's thread: model load (download, compile) and every
// embedding run in this worker, so the page stays responsive. One Verifier per model, each
// with its own IndexedDB database. Faces use face-api.js's pretrained networks, converted
// (models/README.md): every picture is embedded by its largest face, found and aligned.
//
// The package is imported dynamically, after `onmessage` is set: a module worker whose
// top-level code awaits (the package instantiates its wasm on import) would drop the
// messages that arrive before its handler exists.
const lib = import('/pkg/index.js');

const DB = { signature: 'siamese-demo-signature', face: 'siamese-demo-face' };

async function load(kind) {
  const { Verifier, models } = await lib;
  const onProgress = (p) => postMessage({ type: 'progress', kind, ...p });
  // models.face brings the shipped face detector and landmark models with it.
  const model = models[kind];
  try {
    return await Verifier.load(model, { db: DB[kind], onProgress });
  } catch (e) {
    if (e.code !== 'model_mismatch') throw e;
    // The shipped model changed since these enrolments were made: they cannot be compared
    // with the new one, so start over (and say so).
    postMessage({ type: 'notice', kind, message: `Enrolments made with an older ${kind} model were cleared; please enrol again.` });
    return Verifier.load(model, { db: DB[kind], onProgress, reset: true });
  }
}

const verifiers = { signature: load('signature'), face: load('face') };

const ops = {
  info: (v) => ({ name: v.metadata.name, threshold: v.threshold, dim: v.metadata.embedding_dim }),
  enroll: (v, id, samples) => v.enroll(id, samples),
  verify: (v, id, sample) => v.verify(id, sample),
  identify: (v, sample, k) => v.identify(sample, k),
  list: (v) => v.list(),
  remove: (v, id) => v.remove(id),
  clear: (v) => v.clear(),
  // The live box over the webcam, and the face a picture will be compared by (the
  // largest, as embed chooses it) with its aligned crop.
  detect: (v, image) => v.detectFaces(image),
  align: (v, image) => v.largestFace(image),
  exportGallery: (v) => v.exportGallery(),
  importGallery: (v, data) => v.importGallery(data, { replace: true }),
};

onmessage = async ({ data: { id, op, kind, args = [] } }) => {
  try {
    const v = await verifiers[kind];
    postMessage({ id, ok: true, result: await ops[op](v, ...args) });
  } catch (e) {
    postMessage({ id, ok: false, error: { code: e.code ?? 'internal', message: String(e.message ?? e) } });
  }
};
