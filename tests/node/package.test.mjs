// The npm package in Node.js: embed and similarity work there, with an in-memory gallery
// (Node has no IndexedDB), and the shipped models load from the package's own files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Verifier, similarity, calibrate, models, warmUp } from '../../pkg/index.js';

function signatureRgba(w, h, phase) {
  const data = new Uint8ClampedArray(w * h * 4).fill(255);
  for (let x = 10; x < w - 10; x++) {
    const y = Math.round(h / 2 + (h / 4) * Math.sin(x / 15 + phase));
    for (let d = -2; d <= 2; d++) data.fill(30, ((y + d) * w + x) * 4, ((y + d) * w + x) * 4 + 3);
  }
  return { width: w, height: h, data };
}

test('embed, similarity and an in-memory gallery in Node', async () => {
  const v = await Verifier.load(models.signature);
  assert.equal(v.db, undefined, 'no IndexedDB in Node: the gallery is in memory');
  const a = v.embed(signatureRgba(240, 100, 0));
  const b = v.embed(signatureRgba(240, 100, 0.2));
  assert.ok(a instanceof Float32Array && a.length === 128);
  assert.ok(Math.abs(similarity(a, a) - 1) < 1e-6);
  assert.equal(similarity(a, b), v.similarity(a, b));
  await v.enroll('ann', [signatureRgba(240, 100, 0), signatureRgba(240, 100, 0.1)]);
  const r = await v.verify('ann', signatureRgba(240, 100, 0.05));
  assert.equal(r.id, 'ann');
  assert.ok(r.match, JSON.stringify(r));
  await assert.rejects(v.verify('bob', a), (e) => e.code === 'unknown_id');
  assert.throws(() => v.embed({ width: 0, height: 5, data: new Uint8Array(0) }), (e) => e.code === 'empty_image');
  const c = calibrate([0.9, 0.8], [0.1, 0.2]);
  assert.ok(c.eer === 0 && c.threshold > 0.2 && c.threshold <= Math.fround(0.8), JSON.stringify(c));
  await assert.rejects(Verifier.load(models.faceTrained, { db: 'x' }), (e) => e.code === 'storage_error');
  // The trained face encoder takes whole pictures: no face finder comes with it.
  const trained = await Verifier.load(models.faceTrained);
  assert.equal(trained.metadata.preprocess.mode, 'face');
  assert.equal(trained.findsFaces, false);
});

test('warmUp runs its built-in network and changes no embedding', async () => {
  const before = await Verifier.load(models.signature);
  const a = before.embed(signatureRgba(240, 100, 0));
  assert.equal(warmUp(), undefined);
  warmUp();
  const after = await Verifier.load(models.signature);
  assert.deepEqual(after.embed(signatureRgba(240, 100, 0)), a);
});
