// Writes tests/fixtures/faceapi-descriptors.json: face-api.js's own descriptors (TF.js CPU
// backend, in Node) of the synthetic pictures of tests/node/faceapi-reference.mjs. The Rust
// test of the converter (train/tests/faceapi.rs) compares our ONNX graphs with them; the
// Node test checks that this file still matches what face-api.js computes.
//   node scripts/faceapi-reference.mjs
import { writeFileSync } from 'node:fs';
import { loadRecognizer, syntheticPixels, SYNTHETIC, root } from '../tests/node/faceapi-reference.mjs';

const net = await loadRecognizer();
const descriptors = [];
for (let k = 0; k < SYNTHETIC; k++) descriptors.push(await net.describe(syntheticPixels(k)));
const out = `${root}tests/fixtures/faceapi-descriptors.json`;
writeFileSync(out, `${JSON.stringify({ package: `@vladmandic/face-api ${net.version}`, tfjs: net.tf, backend: 'cpu', synthetic: SYNTHETIC, descriptors }, null, 1)}\n`);
console.log(`wrote ${out}`);
