// The converted face recogniser (models/face-recognition.onnx, run by our wasm in Node)
// against the original: face-api.js on TensorFlow.js's CPU backend, same pictures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { Verifier, models } from '../../pkg/index.js';
import { loadRecognizer, syntheticPixels, toPlanar, cosine, SYNTHETIC, SIZE, DETECTOR_SIZE, LANDMARKS_SIZE, root } from './faceapi-reference.mjs';

const net = await loadRecognizer();

test('the fixture of face-api.js outputs is what face-api.js computes', async () => {
  const fixture = JSON.parse(readFileSync(`${root}tests/fixtures/faceapi-descriptors.json`, 'utf8'));
  assert.equal(fixture.package, `@vladmandic/face-api ${net.version}`, 'regenerate with node scripts/faceapi-reference.mjs');
  assert.equal(fixture.detector_size, DETECTOR_SIZE);
  const close = (got, want, what) => {
    assert.equal(got.length, want.length, what);
    const diff = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
    assert.ok(diff < 1e-4, `${what}: differs by ${diff}`);
  };
  for (let k = 0; k < SYNTHETIC; k++) {
    close(await net.describe(syntheticPixels(k)), fixture.descriptors[k], `descriptor ${k}`);
    close(await net.detectorRaw(syntheticPixels(k, DETECTOR_SIZE)), fixture.detector[k], `detector ${k}`);
    close(await net.landmarksRaw(syntheticPixels(k, LANDMARKS_SIZE)), fixture.landmarks[k], `landmarks ${k}`);
  }
});

test('the shipped int8 recogniser agrees with face-api.js on the same input', async () => {
  const ours = await Verifier.load(models.faceRecognition);
  assert.equal(ours.metadata.preprocess.mode, 'face_rgb');
  let worst = 1;
  for (let k = 0; k < SYNTHETIC; k++) {
    const px = syntheticPixels(k);
    worst = Math.min(worst, cosine(ours.embedInput(toPlanar(px)), await net.describe(px)));
  }
  console.log(`int8 recogniser in wasm: worst cosine to face-api.js over ${SYNTHETIC} synthetic pictures ${worst.toFixed(5)}`);
  assert.ok(worst >= 0.995, `cosine ${worst}`);
});

/** A binary PGM (P5, 8-bit) as RGBA. */
function readPgm(path) {
  const bytes = readFileSync(path);
  const fields = [];
  let i = 0;
  while (fields.length < 4) {
    while (/\s/.test(String.fromCharCode(bytes[i]))) i++;
    let s = '';
    while (!/\s/.test(String.fromCharCode(bytes[i]))) s += String.fromCharCode(bytes[i++]);
    fields.push(s);
  }
  i++;
  const [magic, w, h] = [fields[0], Number(fields[1]), Number(fields[2])];
  assert.equal(magic, 'P5');
  const data = new Uint8ClampedArray(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([bytes[i + p], bytes[i + p], bytes[i + p], 255], p * 4);
  return { width: w, height: h, data };
}

const att = `${root}../shared/data/att_faces`;

test('from the same face photographs, both pipelines give nearly the same descriptor', { skip: !existsSync(att) && `${att} is absent` }, async () => {
  // Whole pipelines: face-api.js pads to a square and resizes bilinearly in TF.js; ours pads
  // the same way and resizes with an antialiasing filter in Rust. So not identical inputs.
  const ours = await Verifier.load(models.faceRecognition);
  const subjects = readdirSync(att).filter((d) => /^s\d+$/.test(d)).sort().slice(0, 4);
  let worst = 1;
  for (const s of subjects) {
    const img = readPgm(`${att}/${s}/1.pgm`);
    const hwc = new Float32Array(img.width * img.height * 3);
    for (let p = 0; p < img.width * img.height; p++) hwc.fill(img.data[p * 4], p * 3, p * 3 + 3);
    const faceapi = await net.describeImage(hwc, img.height, img.width);
    worst = Math.min(worst, cosine(ours.embed(img), faceapi));
  }
  console.log(`AT&T photographs, whole pipelines: worst cosine ${worst.toFixed(4)} over ${subjects.length}`);
  assert.ok(worst >= 0.99, `cosine ${worst}`);
  assert.equal(SIZE, ours.metadata.preprocess.width);
});
