// Writes tests/fixtures/faceapi-descriptors.json: face-api.js's own outputs (TF.js CPU
// backend, in Node) for the synthetic pictures of tests/node/faceapi-reference.mjs: the
// recogniser's descriptors, the tiny detector's raw output and the tiny landmark net's. The Rust
// test of the converter (train/tests/faceapi.rs) compares our ONNX graphs with them; the
// Node test checks that this file still matches what face-api.js computes.
//   node scripts/faceapi-reference.mjs
import { writeFileSync } from 'node:fs';
import { loadRecognizer, syntheticPixels, SYNTHETIC, DETECTOR_SIZE, LANDMARKS_SIZE, root } from '../tests/node/faceapi-reference.mjs';

const net = await loadRecognizer();
const [descriptors, detector, landmarks] = [[], [], []];
for (let k = 0; k < SYNTHETIC; k++) {
  descriptors.push(await net.describe(syntheticPixels(k)));
  detector.push(await net.detectorRaw(syntheticPixels(k, DETECTOR_SIZE)));
  landmarks.push(await net.landmarksRaw(syntheticPixels(k, LANDMARKS_SIZE)));
}
const out = `${root}tests/fixtures/faceapi-descriptors.json`;
const fixture = { package: `@vladmandic/face-api ${net.version}`, tfjs: net.tf, backend: 'cpu', synthetic: SYNTHETIC, detector_size: DETECTOR_SIZE, descriptors, detector, landmarks };
writeFileSync(out, `${JSON.stringify(fixture, null, 1)}\n`);
console.log(`wrote ${out}`);
