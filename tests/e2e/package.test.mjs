// The npm package (pkg/, from build.sh) in headless Chromium, through its public entry:
// model loading from a URL with progress, each browser image kind, a real quota limit
// (storage_full leaves the earlier enrolments whole), and reloading the page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { serve, chromiumOptions } from '../../scripts/serve.mjs';

let server, url, browser;
before(async () => {
  ({ server, url } = await serve('.'));
  browser = await chromium.launch(chromiumOptions);
});
after(async () => { await browser?.close(); server?.close(); });

const PAGE = '<!doctype html><meta charset="utf-8"><title>package test</title><body></body>';

async function openPage(context) {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.route(`${url}/blank.html`, (r) => r.fulfill({ contentType: 'text/html', body: PAGE }));
  await page.goto(`${url}/blank.html`);
  return page;
}

test('loads a shipped model by URL with progress, and embeds every image kind', async () => {
  const context = await browser.newContext();
  const page = await openPage(context);
  const r = await page.evaluate(async () => {
    const { Verifier, models } = await import('/pkg/index.js');
    const phases = [];
    const v = await Verifier.load(models.signature, { db: 'kinds', onProgress: (p) => phases.push(p.phase) });
    // Without onProgress the body is read whole, not chunk by chunk: the same model.
    const whole = await Verifier.load(models.signature, { db: false });
    const x = new Float32Array(64 * 128).map((_, i) => (i % 97) / 97);
    const sameModel = whole.fingerprint === v.fingerprint && whole.embedInput(x).every((e, i) => e === v.embedInput(x)[i]);
    const c = document.createElement('canvas');
    c.width = 300; c.height = 120;
    const g = c.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, 300, 120);
    g.strokeStyle = '#123'; g.lineWidth = 4; g.beginPath(); g.moveTo(20, 90);
    for (let x = 20; x < 280; x += 10) g.lineTo(x, 60 + 30 * Math.sin(x / 17));
    g.stroke();
    const fromCanvas = v.embed(c);
    const img = new Image();
    img.src = c.toDataURL('image/png');
    await img.decode();
    const fromImg = v.embed(img);
    const fromBitmap = v.embed(await createImageBitmap(c));
    const fromImageData = v.embed(g.getImageData(0, 0, 300, 120));
    const notLoaded = new Image();
    let code;
    try { v.embed(notLoaded); } catch (e) { code = e.code; }
    const diff = (a, b) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    return { phases, sameModel, dim: fromCanvas.length, img: diff(fromCanvas, fromImg), bitmap: diff(fromCanvas, fromBitmap), data: diff(fromCanvas, fromImageData), code,
      meta: v.metadata.name, threshold: v.threshold, self: v.similarity(fromCanvas, fromImg) };
  });
  assert.deepEqual([...new Set(r.phases)], ['download', 'compile', 'store', 'ready']);
  assert.ok(r.sameModel);
  assert.equal(r.dim, 128);
  assert.ok(r.img < 1e-6 && r.bitmap < 1e-6 && r.data < 1e-6, JSON.stringify(r));
  assert.equal(r.code, 'empty_image');
  assert.equal(r.meta, 'signature');
  assert.ok(r.self > 0.9999);
  const bad = await page.evaluate(async () => {
    const { Verifier } = await import('/pkg/index.js');
    try { await Verifier.load('/models/nope.onnx'); } catch (e) { return e.code; }
  });
  assert.equal(bad, 'fetch_failed');
  await context.close();
});

test('Chromium runs the relaxed-SIMD build, which embeds as the simd128 build does', async () => {
  const context = await browser.newContext();
  const page = await openPage(context);
  const r = await page.evaluate(async () => {
    const { wasmBuild } = await import('/pkg/index.js');
    // Each build through its own instance of the glue module (a query makes a new module).
    const instance = async (file) => {
      const glue = await import(`/pkg/siamese_wasm.js?${file}`);
      await glue.default({ module_or_path: `/pkg/${file}` });
      return glue;
    };
    const builds = [await instance('siamese_wasm_bg.wasm'), await instance('siamese_wasm_relaxed_bg.wasm')];
    const out = {};
    for (const [model, h, w] of [['signature', 64, 128], ['face', 64, 64]]) {
      const x = new Float32Array(h * w).map((_, i) => ((i * 7919) % 100) / 100);
      const [a, b] = await Promise.all(builds.map(async (g) => (await g.Verifier.load(`/models/${model}.onnx`, { db: false })).embedInput(x)));
      out[model] = { diff: Math.max(...a.map((v, i) => Math.abs(v - b[i]))), dot: a.reduce((s, v, i) => s + v * b[i], 0) };
    }
    return { wasmBuild, out };
  });
  assert.equal(r.wasmBuild, 'relaxed-simd');
  for (const [model, { diff, dot }] of Object.entries(r.out)) {
    // Fused multiply-add rounds once where mul + add rounds twice: equal up to float noise.
    assert.ok(diff < 1e-4 && dot > 0.9999, `${model}: ${JSON.stringify({ diff, dot })}`);
  }
  await context.close();
});

test('a full disk fails the enrolment with storage_full and loses nothing', async () => {
  const context = await browser.newContext();
  const page = await openPage(context);
  const enrol = (id, n) => page.evaluate(async ([id, n]) => {
    const { Verifier, models } = await import('/pkg/index.js');
    globalThis.v ??= await Verifier.load(models.signature, { db: 'quota' });
    // Random values: IndexedDB compresses what it stores, and zeros would fit anywhere.
    const samples = Array.from({ length: n }, () => Float32Array.from({ length: 128 }, () => Math.random() - 0.5));
    try { return await v.enroll(id, samples); } catch (e) { return { code: e.code, message: e.message }; }
  }, [id, n]);
  // Give this origin 200 kB (Chromium DevTools protocol; set before its storage is first
  // used, as IndexedDB reads the quota when it opens): room for a small enrolment, not for
  // 2000 samples (1 MB).
  const cdp = await context.newCDPSession(page);
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: url, quotaSize: 200_000 });
  assert.deepEqual(await enrol('kept', 3), { id: 'kept', samples: 3 });
  const failed = await enrol('big', 2000);
  assert.equal(failed.code, 'storage_full', JSON.stringify(failed));
  await page.reload();
  const list = await page.evaluate(async () => {
    const { Verifier, models } = await import('/pkg/index.js');
    return (await Verifier.load(models.signature, { db: 'quota' })).list();
  });
  assert.deepEqual(list, [{ id: 'kept', samples: 3 }]);
  await context.close();
});

test('a second tab sees enrolments without reloading, and after reload', async () => {
  const context = await browser.newContext();
  const [a, b] = [await openPage(context), await openPage(context)];
  const load = (p) => p.evaluate(async () => {
    const { Verifier, models } = await import('/pkg/index.js');
    globalThis.v = await Verifier.load(models.signature, { db: 'tabs' });
    return (await v.list()).length;
  });
  assert.equal(await load(a), 0);
  assert.equal(await load(b), 0);
  await a.evaluate(() => v.enroll('ann', [[[{ x: 0, y: 0 }, { x: 50, y: 20 }, { x: 90, y: 5 }]]]));
  // The other tab hears of it through a BroadcastChannel; poll briefly for delivery.
  const seen = await b.evaluate(async () => {
    for (let i = 0; i < 50; i++) {
      const l = await v.list();
      if (l.length) return l;
      await new Promise((r) => setTimeout(r, 20));
    }
    return [];
  });
  assert.deepEqual(seen, [{ id: 'ann', samples: 1 }]);
  await b.reload();
  assert.equal(await load(b), 1);
  await context.close();
});
