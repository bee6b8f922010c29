// The in-page half of the benchmark: loads siamese-wasm (pkg/) and onnxruntime-web (wasm
// backend, one thread) on the same trained networks and times them. run.mjs drives it and
// interleaves the systems round by round; every function here runs one measurement.
import { Verifier } from '/pkg/index.js';
import * as ort from '/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';

ort.env.wasm.numThreads = 1;
ort.env.wasm.simd = true;
ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';

const bytes = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const S = {};

/**
 * Loads every system once on each of the model's files: weight-only int8 (shipped) and f32
 * for both, and for onnxruntime-web also the fully integer QLinearConv form
 * (`.qlinear.onnx`; siamese-wasm's import does not read QLinear operators, and tract ran them
 * slower than float: models/README.md). onnxruntime-web's end-to-end runs use whichever of its
 * three sessions is fastest on this machine (a quick pre-timing).
 */
export async function setup(models) {
  for (const m of models) {
    const int8 = await bytes(`/models/${m}.onnx`);
    const f32 = await bytes(`/models/${m}.f32.onnx`);
    const ql = await bytes(`/models/${m}.qlinear.onnx`);
    const ours = await Verifier.load(int8, { db: false });
    const meta = ours.metadata;
    const session = (b) => ort.InferenceSession.create(b, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    S[m] = {
      meta,
      ours,
      oursF32: await Verifier.load(f32, { db: false }),
      ortInt8: await session(int8),
      ortF32: await session(f32),
      ortQl: await session(ql),
    };
    S[m].input = syntheticInput(meta.preprocess.height, meta.preprocess.width);
    const pre = {};
    for (const k of ['ortInt8', 'ortF32', 'ortQl']) pre[k] = await network(m, k, 10);
    S[m].ortE2E = Object.keys(pre).reduce((a, b) => (pre[a] <= pre[b] ? a : b));
  }
  return Object.fromEntries(models.map((m) => [m, { preprocess: S[m].meta.preprocess, ortE2E: S[m].ortE2E }]));
}

function syntheticInput(h, w) {
  const x = new Float32Array(h * w);
  for (let i = 0; i < x.length; i++) x[i] = Math.max(0, Math.sin(i * 0.37) * Math.cos(i * 0.011));
  return x;
}

const ortRun = async (session, input, h, w) => {
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input, [1, 1, h, w]) });
  return out[session.outputNames[0]].data;
};

/** Mean ms per embedding over `n` runs (after 3 warm-up runs) of one system on the network alone. */
export async function network(model, system, n) {
  const s = S[model];
  const { height: h, width: w } = s.meta.preprocess;
  const run = {
    ours: () => s.ours.embedInput(s.input),
    oursF32: () => s.oursF32.embedInput(s.input),
    ortInt8: () => ortRun(s.ortInt8, s.input, h, w),
    ortF32: () => ortRun(s.ortF32, s.input, h, w),
    ortQl: () => ortRun(s.ortQl, s.input, h, w),
  }[system];
  for (let i = 0; i < 5; i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await run();
  return (performance.now() - t0) / n;
}

// ---- end to end: RGBA pixels or pen strokes to a verify decision ----

/** A signature-like RGBA picture, or a face-like one. */
function picture(kind, phase) {
  const [w, h] = kind === 'signature' ? [400, 160] : [184, 224];
  const c = new OffscreenCanvas(w, h);
  const g = c.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  if (kind === 'signature') {
    g.strokeStyle = '#123'; g.lineWidth = 3; g.beginPath();
    for (let x = 20; x < 380; x += 4) g.lineTo(x, 80 + 40 * Math.sin(x / 23 + phase));
    g.stroke();
  } else {
    g.fillStyle = '#555'; g.fillRect(0, 0, w, h);
    g.fillStyle = '#bbb'; g.beginPath(); g.ellipse(w / 2, h / 2, 60, 85, 0, 0, 7); g.fill();
    g.fillStyle = '#222'; for (const [x, y] of [[-22, -20], [22, -20]]) { g.beginPath(); g.arc(w / 2 + x, h / 2 + y + phase, 8, 0, 7); g.fill(); }
  }
  return g.getImageData(0, 0, w, h);
}

function strokesOf(phase) {
  const s = [];
  for (let x = 20; x < 380; x += 6) s.push({ x, y: 80 + 40 * Math.sin(x / 23 + phase) });
  return [s, [{ x: 30, y: 140 }, { x: 350, y: 135 }]];
}

// What a user would write in JavaScript around onnxruntime-web: grayscale, ink crop and fit
// (signatures) or centre crop and standardise (faces), bilinear resize, L2 normalise, cosine.
function gray(img) {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const a = data[i * 4 + 3] / 255;
    out[i] = a * (0.299 * data[i * 4] + 0.587 * data[i * 4 + 1] + 0.114 * data[i * 4 + 2]) / 255 + (1 - a);
  }
  return out;
}
function resize(src, sw, sh, x0, y0, cw, ch, dw, dh) {
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) {
    const fx = x0 + (x + 0.5) * cw / dw - 0.5, fy = y0 + (y + 0.5) * ch / dh - 0.5;
    const ix = Math.max(0, Math.min(sw - 2, Math.floor(fx))), iy = Math.max(0, Math.min(sh - 2, Math.floor(fy)));
    const ax = Math.min(1, Math.max(0, fx - ix)), ay = Math.min(1, Math.max(0, fy - iy));
    const p = (xx, yy) => src[yy * sw + xx];
    out[y * dw + x] = (1 - ay) * ((1 - ax) * p(ix, iy) + ax * p(ix + 1, iy)) + ay * ((1 - ax) * p(ix, iy + 1) + ax * p(ix + 1, iy + 1));
  }
  return out;
}
function jsPreprocess(img, pre) {
  const { width: w, height: h } = img;
  const g = gray(img);
  if (pre.mode === 'face') {
    const aspect = pre.width / pre.height;
    const cw = Math.min(w, h * aspect), ch = cw / aspect;
    const x = resize(g, w, h, (w - cw) / 2, (h - ch) / 2, cw, ch, pre.width, pre.height);
    let m = 0; x.forEach((v) => { m += v; }); m /= x.length;
    let v2 = 0; x.forEach((v) => { v2 += (v - m) ** 2; });
    const sd = Math.sqrt(v2 / x.length) || 1;
    return x.map((v) => (v - m) / sd);
  }
  const ink = g.map((v) => Math.max(0, 1 - v));
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (ink[y * w + x] > 0.2) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const inner = [pre.width * (1 - 2 * pre.margin), pre.height * (1 - 2 * pre.margin)];
  const scale = Math.min(inner[0] / bw, inner[1] / bh);
  const [dw, dh] = [Math.max(1, Math.round(bw * scale)), Math.max(1, Math.round(bh * scale))];
  const fitted = resize(ink, w, h, x0, y0, bw, bh, dw, dh);
  const out = new Float32Array(pre.width * pre.height);
  const ox = Math.floor((pre.width - dw) / 2), oy = Math.floor((pre.height - dh) / 2);
  for (let y = 0; y < dh; y++) out.set(fitted.subarray(y * dw, y * dw + dw), (y + oy) * pre.width + ox);
  return out;
}
function normalize(e) { let n = 0; e.forEach((v) => { n += v * v; }); n = Math.sqrt(n); return e.map((v) => v / n); }
function cosine(a, b) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * b[i]; return s; }
function drawStrokes(strokes) {
  const c = new OffscreenCanvas(400, 160);
  const g = c.getContext('2d');
  g.fillStyle = '#fff'; g.fillRect(0, 0, 400, 160);
  g.strokeStyle = '#000'; g.lineWidth = 3; g.lineCap = g.lineJoin = 'round';
  for (const s of strokes) { g.beginPath(); s.forEach((p, i) => (i ? g.lineTo(p.x, p.y) : g.moveTo(p.x, p.y))); g.stroke(); }
  return g.getImageData(0, 0, 400, 160);
}

const templates = {};
/** Enrols one identity in both systems (ours: the gallery; JS: a template array). */
export async function enrolE2E(model) {
  const s = S[model];
  const inputs = [0, 0.3, 0.6].map((p) => picture(model, p));
  await s.ours.enroll('x', inputs, { replace: true });
  const { height: h, width: w } = s.meta.preprocess;
  const embs = [];
  for (const img of inputs) embs.push(normalize(await ortRun(s[s.ortE2E], jsPreprocess(img, s.meta.preprocess), h, w)));
  templates[model] = normalize(embs[0].map((_, i) => embs.reduce((a, e) => a + e[i], 0)));
}

/** Mean ms per verify, from RGBA (`kind` 'pixels') or strokes, for `system` ('ours' | 'ort'). */
export async function e2e(model, system, kind, n) {
  const s = S[model];
  const { height: h, width: w } = s.meta.preprocess;
  const input = kind === 'strokes' ? strokesOf(0.2) : picture(model, 0.2);
  const run = system === 'ours'
    ? () => s.ours.verify('x', input)
    : async () => {
      const img = kind === 'strokes' ? drawStrokes(input) : input;
      const e = normalize(await ortRun(s[s.ortE2E], jsPreprocess(img, s.meta.preprocess), h, w));
      const score = cosine(e, templates[model]);
      return { score, match: score >= s.meta.threshold };
    };
  for (let i = 0; i < 3; i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await run();
  return (performance.now() - t0) / n;
}

// ---- 1:N identify ----
let big = null;
/** An in-memory gallery of `n` random unit templates (dimension 128), in ours and as one JS Float32Array. */
export async function fillGallery(model, n) {
  const v = await Verifier.load(await bytes(`/models/${model}.onnx`), { db: false });
  const flat = new Float32Array(n * 128);
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  for (let i = 0; i < n; i++) {
    const e = new Float32Array(128);
    for (let j = 0; j < 128; j++) e[j] = rnd();
    const u = normalize(e);
    flat.set(u, i * 128);
    await v.enroll(`id${i}`, [u]);
  }
  big?.v.free();
  big = { v, flat, n, q: normalize(Float32Array.from({ length: 128 }, rnd)) };
}

/** Mean ms per identify (top 5) over the gallery: ours, or a plain JS loop over a Float32Array. */
export async function identify(system, reps) {
  const { v, flat, n, q } = big;
  const run = system === 'ours' ? () => v.identify(q, 5) : () => {
    const best = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < 128; j++) s += flat[i * 128 + j] * q[j];
      if (best.length < 5 || s > best[best.length - 1][0]) { best.push([s, i]); best.sort((a, b) => b[0] - a[0]); best.length = Math.min(best.length, 5); }
    }
    return best;
  };
  // Enough warm-up for V8 to tier the search up from its baseline wasm compiler.
  for (let i = 0; i < 10; i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await run();
  return (performance.now() - t0) / reps;
}

// ---- faces: detect + align + embed, against face-api.js on the same three networks ----
const F = {};
/**
 * Loads our face pipeline and face-api.js (its own TF.js bundle, wasm backend) on one face
 * photograph handed over by run.mjs (`rgba`: {width, height, data}).
 */
export async function setupFaces(rgba) {
  F.img = new ImageData(new Uint8ClampedArray(rgba.data), rgba.width, rgba.height);
  F.ours = await Verifier.load('/models/face-recognition.onnx', { db: false, faces: { detector: '/models/face-detector.onnx', landmarks: '/models/face-landmarks.onnx' } });
  const faceapi = await import('/node_modules/@vladmandic/face-api/dist/face-api.esm.js');
  faceapi.tf.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  await faceapi.tf.setBackend('wasm');
  await faceapi.tf.ready();
  const base = '/node_modules/@vladmandic/face-api/model/';
  await faceapi.nets.tinyFaceDetector.loadFromUri(base);
  await faceapi.nets.faceLandmark68TinyNet.loadFromUri(base);
  await faceapi.nets.faceRecognitionNet.loadFromUri(base);
  F.faceapi = faceapi;
  F.canvas = new OffscreenCanvas(rgba.width, rgba.height);
  F.canvas.getContext('2d').putImageData(F.img, 0, 0);
  const theirs = await faceapiFace();
  return { ours: F.ours.detectFaces(F.img).length, theirs: !!theirs, backend: faceapi.tf.getBackend(), threads: faceapi.tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') };
}

function faceapiFace() {
  const { faceapi } = F;
  const t = faceapi.tf.browser.fromPixels(F.img);
  const r = faceapi.detectSingleFace(t, new faceapi.TinyFaceDetectorOptions({ inputSize: 128, scoreThreshold: 0.5 })).withFaceLandmarks(true).withFaceDescriptor();
  return r.then((x) => { t.dispose(); return x; });
}

/** Mean ms per face, RGBA to descriptor: ours (`embed` with face models) or face-api.js. */
export async function face(system, n) {
  const run = system === 'ours' ? async () => F.ours.embed(F.img) : faceapiFace;
  for (let i = 0; i < 3; i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await run();
  return (performance.now() - t0) / n;
}
