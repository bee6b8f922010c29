// The benchmark: siamese-wasm against onnxruntime-web on the shipped networks, in headless
// Chromium (Debian's), one thread, the systems interleaved within every round; medians over
// the rounds, ratios ours / theirs (below 1: we are faster). Prints a table, writes
// bench/results/latest.json and rewrites the table in bench/README.md.
//
//   node bench/run.mjs [--rounds 7] [--quick]
import { chromium } from 'playwright-core';
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { cpus } from 'node:os';
import { serve, chromiumOptions } from '../scripts/serve.mjs';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const rounds = Number(args[args.indexOf('--rounds') + 1]) || (quick ? 3 : 7);
const N = quick ? 10 : 40; // embeddings per timing
const MODELS = ['signature', 'face'];
const GALLERY = quick ? [1000] : [1000, 10000, 100000];
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

const { server, url } = await serve('.');
const browser = await chromium.launch(chromiumOptions);
const results = { date: new Date().toISOString(), rounds, machine: `${cpus()[0].model}, ${cpus().length} cores`, chromium: browser.version() };
const log = (...a) => console.error(...a);

async function benchPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => log('page error:', e));
  await page.goto(`${url}/bench/page.html`);
  await page.evaluate(async () => { window.B = await import('/bench/page.js'); });
  return { context, page };
}

// ---- 1, 2: network alone and end to end ----
{
  const { context, page } = await benchPage();
  results.setup = await page.evaluate((m) => B.setup(m), MODELS);
  const systems = ['ours', 'oursF32', 'ortInt8', 'ortF32', 'ortQl'];
  const net = {}, e2e = {};
  for (const m of MODELS) {
    net[m] = Object.fromEntries(systems.map((s) => [s, []]));
    e2e[m] = { ours_pixels: [], ort_pixels: [], ours_strokes: [], ort_strokes: [] };
    await page.evaluate((m) => B.enrolE2E(m), m);
  }
  for (let r = 0; r < rounds; r++) {
    for (const m of MODELS) {
      // Alternate the order every round so neither system always runs first.
      const order = r % 2 ? [...systems].reverse() : systems;
      for (const s of order) net[m][s].push(await page.evaluate(([m, s, n]) => B.network(m, s, n), [m, s, N]));
      const kinds = m === 'signature' ? ['pixels', 'strokes'] : ['pixels'];
      for (const k of kinds) for (const s of r % 2 ? ['ort', 'ours'] : ['ours', 'ort']) {
        e2e[m][`${s}_${k}`].push(await page.evaluate(([m, s, k, n]) => B.e2e(m, s, k, n), [m, s, k, N]));
      }
    }
    log(`round ${r + 1}/${rounds} done`);
  }
  results.network = Object.fromEntries(MODELS.map((m) => [m, Object.fromEntries(systems.map((s) => [s, median(net[m][s])]))]));
  results.e2e = Object.fromEntries(MODELS.map((m) => [m, Object.fromEntries(Object.entries(e2e[m]).filter(([, v]) => v.length).map(([k, v]) => [k, median(v)]))]));
  await context.close();
}

// ---- 2b: faces, detect + align + embed, against face-api.js (its own TF.js, wasm backend) ----
{
  // A real face is needed (a picture without one stops both pipelines at the detector): the
  // first AT&T photograph of ../shared/data, when present; never committed.
  const photo = '../shared/data/att_faces/s1/1.pgm';
  let pgm = null;
  try { pgm = await readFile(photo); } catch { log(`faces: ${photo} is absent, face row skipped`); }
  if (pgm) {
    const [, w, h] = pgm.toString('latin1', 0, 20).split(/\s+/).map(Number);
    const px = pgm.subarray(pgm.length - w * h);
    const data = Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? 255 : px[i >> 2]));
    const { context, page } = await benchPage();
    results.faceSetup = await page.evaluate((rgba) => B.setupFaces(rgba), { width: w, height: h, data });
    const t = { ours: [], faceapi: [] };
    for (let r = 0; r < rounds; r++) for (const s of r % 2 ? ['faceapi', 'ours'] : ['ours', 'faceapi']) t[s].push(await page.evaluate(([s, n]) => B.face(s, n), [s, quick ? 3 : 10]));
    results.face = { ours: median(t.ours), faceapi: median(t.faceapi) };
    log('faces done', JSON.stringify(results.faceSetup));
    await context.close();
  }
}

// ---- 3: cold start, each in a fresh browser context (empty caches) ----
{
  const times = { ours: [], ort: [], oursAfterWasm: [], oursBytes: [], oursWarm: [], warmUp: [] };
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 ? ['bytes', 'warm', 'ort', 'ours'] : ['ours', 'ort', 'warm', 'bytes']) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${url}/bench/page.html`);
      const t = await page.evaluate(async (s) => {
        const x = new Float32Array(64 * 128).fill(0.5);
        const t0 = performance.now();
        if (s === 'ours') {
          const { Verifier } = await import('/pkg/index.js');
          const t1 = performance.now();
          const v = await Verifier.load('/models/signature.onnx', { db: false });
          v.embedInput(x);
          const t2 = performance.now();
          return { total: t2 - t0, afterWasm: t2 - t1 };
        }
        if (s === 'bytes') {
          // The same load with the model's bytes already in the page (fetched by the page
          // beforehand, not timed): the library's own work, without the download.
          const { Verifier } = await import('/pkg/index.js');
          const bytes = new Uint8Array(await (await fetch('/models/signature.onnx')).arrayBuffer());
          const t1 = performance.now();
          const v = await Verifier.load(bytes, { db: false });
          v.embedInput(x);
          return { bytes: performance.now() - t1 };
        }
        if (s === 'warm') {
          // A page that calls warmUp() while idle after import, then loads on a user's action.
          const { Verifier, warmUp } = await import('/pkg/index.js');
          const w0 = performance.now();
          warmUp();
          const warmUpMs = performance.now() - w0;
          await new Promise((r) => setTimeout(r, 300));
          const t1 = performance.now();
          const v = await Verifier.load('/models/signature.onnx', { db: false });
          v.embedInput(x);
          return { afterWarm: performance.now() - t1, warmUp: warmUpMs };
        }
        const ort = await import('/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs');
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
        const session = await ort.InferenceSession.create('/models/signature.f32.onnx', { executionProviders: ['wasm'] });
        await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, [1, 1, 64, 128]) });
        return { total: performance.now() - t0 };
      }, s);
      if (t.total !== undefined) times[s].push(t.total);
      if (t.afterWasm !== undefined) times.oursAfterWasm.push(t.afterWasm);
      if (t.bytes !== undefined) times.oursBytes.push(t.bytes);
      if (t.afterWarm !== undefined) { times.oursWarm.push(t.afterWarm); times.warmUp.push(t.warmUp); }
      await context.close();
    }
  }
  results.coldStart = { ours: median(times.ours), ort: median(times.ort), oursAfterWasm: median(times.oursAfterWasm), oursBytes: median(times.oursBytes), oursAfterWarmUp: median(times.oursWarm), warmUp: median(times.warmUp) };
  log('cold start done');
}

// ---- 4: 1:N identify ----
{
  const { context, page } = await benchPage();
  results.identify = {};
  for (const n of GALLERY) {
    await page.evaluate((n) => B.fillGallery('signature', n), n);
    const t = { ours: [], js: [] };
    for (let r = 0; r < rounds; r++) for (const s of r % 2 ? ['js', 'ours'] : ['ours', 'js']) t[s].push(await page.evaluate(([s, reps]) => B.identify(s, reps), [s, 20]));
    results.identify[n] = { ours: median(t.ours), js: median(t.js) };
    log(`identify ${n} done`);
  }
  await context.close();
}

// ---- 5: wasm size ----
const size = async (f) => { const b = await readFile(f); return { raw: b.length, gzip: gzipSync(b, { level: 9 }).length }; };
// ours: the relaxed-SIMD build, the one Chromium loads (js/index.js); simd128: the other.
results.size = { ours: await size('pkg/siamese_wasm_relaxed_bg.wasm'), simd128: await size('pkg/siamese_wasm_bg.wasm'), ort: await size('node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm') };

// ---- 6: native tract ----
try {
  const out = execFileSync('cargo', ['run', '--release', '--quiet', '--example', 'bench-native', '--', String(rounds)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  results.native = JSON.parse(out);
} catch (e) {
  log('native bench failed:', e.message);
}

await browser.close();
server.close();

const ort = JSON.parse(await readFile('node_modules/onnxruntime-web/package.json', 'utf8')).version;
const ours = JSON.parse(await readFile('pkg/package.json', 'utf8')).version;
results.versions = { 'siamese-wasm': ours, 'onnxruntime-web': ort };

// ---- the table ----
const ms = (x) => (x === undefined ? '-' : x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);
const ratio = (a, b) => (a / b).toFixed(2);
const rows = [];
for (const m of MODELS) {
  const n = results.network[m];
  // onnxruntime-web is compared on its own fastest file; ours on the shipped one.
  const forms = { ortInt8: 'int8 weights', ortF32: 'f32', ortQl: 'QLinear' };
  const bestOrt = Object.keys(forms).reduce((a, b) => (n[a] <= n[b] ? a : b));
  const others = (o) => Object.keys(forms).filter((k) => k !== o).map((k) => `${forms[k]} ${ms(n[k])}`).join(', ');
  rows.push([`${m}: network, per embedding`, `${ms(n.ours)} (shipped int8-weights file; f32 ${ms(n.oursF32)})`, `${ms(n[bestOrt])} (${forms[bestOrt]} file; ${others(bestOrt)})`, ratio(n.ours, n[bestOrt])]);
  const e = results.e2e[m];
  rows.push([`${m}: RGBA to verify`, ms(e.ours_pixels), `${ms(e.ort_pixels)} (${forms[results.setup[m].ortE2E]} file)`, ratio(e.ours_pixels, e.ort_pixels)]);
  if (e.ours_strokes) rows.push([`${m}: strokes to verify`, ms(e.ours_strokes), ms(e.ort_strokes), ratio(e.ours_strokes, e.ort_strokes)]);
  if (results.native?.[m]) rows.push([`${m}: native tract (reference), per embedding`, `${ms(results.native[m].ms)} (${results.native[m].mflops} MFLOPs, ${(results.native[m].mflops / results.native[m].ms).toFixed(1)} GFLOP/s)`, '', '']);
}
if (results.face) {
  const fs = results.faceSetup;
  rows.push([`face: RGBA photograph to descriptor (detect + align + embed; third column: face-api.js ${JSON.parse(await readFile('node_modules/@vladmandic/face-api/package.json', 'utf8')).version}, TF.js wasm backend${fs.threads ? '' : ', one thread'}, same three networks)`, ms(results.face.ours), ms(results.face.faceapi), ratio(results.face.ours, results.face.faceapi)]);
}
const c = results.coldStart;
rows.push(['cold start: fetch wasm + model to first embedding', ms(c.ours), ms(c.ort), ratio(c.ours, c.ort)]);
rows.push(['first embedding after the wasm is instantiated (`Verifier.load(url)`: fetching the model included)', ms(c.oursAfterWasm), '', '']);
rows.push(['first embedding after the wasm is instantiated, the model\'s bytes already in the page (`Verifier.load(bytes)`)', ms(c.oursBytes), '', '']);
rows.push([`first embedding after \`warmUp()\` while the page was idle (warmUp itself ${ms(c.warmUp)}, then 300 ms idle)`, ms(c.oursAfterWarmUp), '', '']);
for (const [n, t] of Object.entries(results.identify)) rows.push([`identify top-5 over ${Number(n).toLocaleString('en')} templates`, ms(t.ours), `${ms(t.js)} (plain JS loop)`, ratio(t.ours, t.js)]);
const sz = results.size;
const mb = (b) => `${(b / 1e6).toFixed(2)} MB`;
rows.push(['wasm size, gzipped (raw)', `${mb(sz.ours.gzip)} (${mb(sz.ours.raw)}; relaxed-SIMD build, which Chromium loads; the simd128 build for other engines: ${mb(sz.simd128.gzip)})`, `${mb(sz.ort.gzip)} (${mb(sz.ort.raw)})`, ratio(sz.ours.gzip, sz.ort.gzip)]);
const table = [
  `Run ${results.date.slice(0, 10)} on ${results.machine}, Chromium ${results.chromium} headless, one thread; siamese-wasm ${ours}, onnxruntime-web ${ort} (wasm backend, numThreads 1). Median of ${rounds} interleaved rounds.`,
  '',
  '| measure | siamese-wasm | onnxruntime-web | ratio |',
  '|---|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
console.log(table);
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/latest.json', JSON.stringify(results, null, 2) + '\n');
if (!quick) {
  const readme = await readFile('bench/README.md', 'utf8');
  const [head, rest] = readme.split('<!-- table -->');
  const tail = rest.split('<!-- /table -->')[1];
  await writeFile('bench/README.md', `${head}<!-- table -->\n${table}\n<!-- /table -->${tail}`);
}
