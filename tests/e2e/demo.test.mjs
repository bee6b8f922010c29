// The demo (www/) end to end in headless Chromium: draw signatures with real mouse moves,
// enrol, verify (match and no match), reload, go offline and verify again, a face
// through the upload path, and the webcam (Chromium's fake camera playing a Y4M file).
// Screenshots of both tabs go to tests/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { serveDemo, chromiumOptions } from '../../scripts/serve.mjs';

const ARTIFACTS = 'tests/e2e/artifacts';
let server, url, browser, context, page;

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  ({ server, url } = await serveDemo());
  browser = await chromium.launch(chromiumOptions);
  context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
  page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(url + '/');
  await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
});
after(async () => { await browser?.close(); server?.close(); });

/** Draws a signature-like curve on the pad with real mouse events; `shape` picks the drawing. */
async function draw(shape, jitter = 0) {
  const box = await page.locator('#pad').boundingBox();
  const at = (u, v) => [box.x + box.width * u, box.y + box.height * v];
  const strokes = shape === 'loops'
    ? [Array.from({ length: 40 }, (_, k) => { const t = k / 39; return [0.1 + 0.6 * t + 0.06 * Math.cos(t * 18 + jitter), 0.5 + (0.25 + jitter * 0.05) * Math.sin(t * 18)]; }),
       [[0.15, 0.8], [0.85, 0.75 + jitter * 0.03]]]
    : [[[0.2, 0.2], [0.8, 0.2]], [[0.5, 0.2], [0.5, 0.9]], [[0.3, 0.9], [0.7, 0.9]]]; // a block "I"
  for (const s of strokes) {
    await page.mouse.move(...at(...s[0]));
    await page.mouse.down();
    for (const p of s.slice(1)) await page.mouse.move(...at(...p), { steps: 4 });
    await page.mouse.up();
  }
}
const text = (sel) => page.locator(sel).innerText();

test('signature: enrol three drawings, verify a fourth and reject a different one', async () => {
  await page.fill('#sig-name', 'Ada <b>Lovelace</b>');
  for (const j of [0, 0.15, -0.15]) {
    await draw('loops', j);
    await page.click('#sig-add');
  }
  await page.click('#sig-enrol');
  await page.waitForFunction(() => document.querySelector('#sig-result').innerText.includes('Enrolled'));
  // Names are text, never markup.
  assert.equal(await page.locator('#gallery-list strong').first().innerText(), 'Ada <b>Lovelace</b>');
  await draw('loops', 0.07);
  await page.click('#sig-verify');
  await page.waitForSelector('#sig-result .row');
  const same = await text('#sig-result');
  assert.match(same, /^match/, same);
  // The pad records times, so the drawing's pen motion was compared too.
  assert.match(same, /pen motion: distance [0-9.]+ \(accepted up to [0-9.]+\): written alike/, same);
  await page.screenshot({ path: `${ARTIFACTS}/signature-tab.png` });
  await draw('block');
  await page.click('#sig-verify');
  await page.waitForFunction(() => document.querySelector('#sig-result').innerText.startsWith('no match'));
});

test('enrolments survive a reload, and the demo works offline', async () => {
  await page.reload();
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
  await page.waitForFunction(() => document.querySelector('#gallery-list').innerText.includes('Ada'));
  // The service worker must control the page before the network goes away.
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('body[data-ready=true]', { timeout: 60_000 });
  await page.fill('#sig-name', 'Ada <b>Lovelace</b>');
  await draw('loops', -0.05);
  await page.click('#sig-verify');
  await page.waitForSelector('#sig-result .row');
  assert.match(await text('#sig-result'), /^match/);
  await context.setOffline(false);
});

/** The size and pixels of an 8-bit PGM (P5) file's bytes. */
function readPgm(buf) {
  const header = buf.subarray(0, 64).toString('latin1').split(/\s+/);
  const [w, h, headerLen] = [Number(header[1]), Number(header[2]), buf.indexOf(Buffer.from(header[3]), 2) + header[3].length + 1];
  return { w, h, px: buf.subarray(headerLen, headerLen + w * h) };
}

/** A PNG of an 8-bit PGM (P5), made by the browser's own encoder. */
async function pgmToPng(path) {
  const { w, h, px } = readPgm(await readFile(path));
  const dataUrl = await page.evaluate(([w, h, px]) => {
    const c = Object.assign(document.createElement('canvas'), { width: w, height: h });
    const img = c.getContext('2d').createImageData(w, h);
    px.forEach((v, i) => img.data.set([v, v, v, 255], i * 4));
    c.getContext('2d').putImageData(img, 0, 0);
    return c.toDataURL('image/png');
  }, [w, h, [...px]]);
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

test('face: enrol and verify through the upload path', async (t) => {
  const dir = '../shared/data/att_faces';
  if (!existsSync(dir)) return t.skip(`${dir} is absent: no face pictures to upload`);
  await page.click('#tab-face');
  const upload = async (subject, n) => {
    await page.evaluate(() => { document.querySelector('#face-result').textContent = ''; });
    await page.setInputFiles('#face-file', { name: `${subject}-${n}.png`, mimeType: 'image/png', buffer: await pgmToPng(`${dir}/${subject}/${n}.pgm`) });
    await page.waitForFunction(() => /Face found|error|_/.test(document.querySelector('#face-result').innerText));
    assert.match(await text('#face-result'), /Face found/);
  };
  await page.fill('#face-name', 'Subject one');
  for (const n of [1, 2, 3]) {
    await upload('s1', n);
    await page.click('#face-add');
  }
  await page.click('#face-enrol');
  await page.waitForFunction(() => /Enrolled|error/.test(document.querySelector('#face-result').innerHTML));
  assert.match(await text('#face-result'), /Enrolled/);
  await upload('s1', 7);
  await page.click('#face-verify');
  await page.waitForSelector('#face-result .row');
  const r = await text('#face-result');
  assert.match(r, /^match Subject one: score/, r);
  await page.screenshot({ path: `${ARTIFACTS}/face-tab.png` });
  const subjects = (await readdir(dir)).filter((s) => s !== 's1' && s.startsWith('s'));
  await upload(subjects[0], 1);
  await page.click('#face-identify');
  await page.waitForSelector('#face-result .row');
});

test('face: a picture without a face is refused and nothing is enrolled', async () => {
  await page.click('#tab-face');
  const gray = await page.evaluate(() => {
    const c = Object.assign(document.createElement('canvas'), { width: 120, height: 150 });
    const g = c.getContext('2d');
    g.fillStyle = '#888';
    g.fillRect(0, 0, 120, 150);
    return c.toDataURL('image/png');
  });
  await page.setInputFiles('#face-file', { name: 'wall.png', mimeType: 'image/png', buffer: Buffer.from(gray.split(',')[1], 'base64') });
  await page.waitForFunction(() => /no_face/.test(document.querySelector('#face-result').innerText));
  // The picture is not kept: there is nothing to add or enrol.
  await page.fill('#face-name', 'Nobody');
  await page.click('#face-add');
  await page.waitForFunction(() => /no_picture/.test(document.querySelector('#face-result').innerText));
  assert.equal(await text('#face-count'), '0 samples');
  assert.doesNotMatch(await text('#gallery-list'), /Nobody/);
});

/** One video frame as a Y4M file (4:2:0, gray), which Chromium's fake camera plays in a loop. */
function y4m(width, height, luma) {
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`);
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128);
  return Buffer.concat([header, Buffer.from('FRAME\n'), Buffer.from(luma), chroma]);
}

/** The demo in a browser whose webcam shows `video` (a Y4M file); runs `f(page)`. */
async function withWebcam(video, f) {
  const file = join(tmpdir(), `siamese-webcam-${process.pid}.y4m`);
  await writeFile(file, video);
  const cam = await chromium.launch({
    ...chromiumOptions,
    args: [...chromiumOptions.args, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${file}`],
  });
  try {
    const p = await (await cam.newContext({ viewport: { width: 1100, height: 820 } })).newPage();
    p.on('pageerror', (e) => console.error('page error:', e));
    await p.goto(url + '/');
    await p.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
    await p.click('#tab-face');
    await p.click('#cam-start');
    await f(p);
  } finally {
    await cam.close();
    await rm(file, { force: true });
  }
}

test('face: the webcam shows no box when no face is in view, and its picture is refused', async () => {
  await withWebcam(y4m(320, 240, new Uint8Array(320 * 240).fill(120)), async (p) => {
    await p.waitForFunction(() => document.querySelector('#face-overlay').dataset.faces === '0', null, { timeout: 60_000 });
    assert.equal(await p.locator('#face-live').innerText(), 'no face in view');
    await p.click('#cam-snap');
    await p.waitForFunction(() => /no_face/.test(document.querySelector('#face-result').innerText));
  });
});

test('face: a live box over the webcam, then enrol and verify from it', async (t) => {
  const photo = '../shared/data/att_faces/s1/1.pgm';
  if (!existsSync(photo)) return t.skip(`${photo} is absent: no face to show the webcam`);
  // The photograph (92 x 112) doubled, in the middle of a 320 x 240 gray frame.
  const { w, h, px } = readPgm(await readFile(photo));
  const luma = new Uint8Array(320 * 240).fill(110);
  const [ox, oy] = [(320 - 2 * w) / 2, (240 - 2 * h) / 2];
  for (let y = 0; y < 2 * h; y++) for (let x = 0; x < 2 * w; x++) luma[(oy + y) * 320 + ox + x] = px[(y >> 1) * w + (x >> 1)];
  await withWebcam(y4m(320, 240, luma), async (p) => {
    await p.waitForFunction(() => document.querySelector('#face-overlay').dataset.faces === '1', null, { timeout: 60_000 });
    assert.match(await p.locator('#face-live').innerText(), /^a face in view/);
    await p.screenshot({ path: `${ARTIFACTS}/face-webcam.png` });
    const snap = async () => {
      await p.evaluate(() => { document.querySelector('#face-result').textContent = ''; });
      await p.click('#cam-snap');
      await p.waitForFunction(() => document.querySelector('#face-result').innerText !== '');
      assert.match(await p.locator('#face-result').innerText(), /Face found/);
    };
    await p.fill('#face-name', 'Webcam person');
    await snap();
    for (let k = 0; k < 3; k++) await p.click('#face-add');
    await p.click('#face-enrol');
    await p.waitForFunction(() => /Enrolled/.test(document.querySelector('#face-result').innerText) || document.querySelector('#face-result .error'));
    assert.match(await p.locator('#face-result').innerText(), /Enrolled Webcam person with 3 samples/);
    await snap();
    await p.click('#face-verify');
    await p.waitForSelector('#face-result .row');
    assert.match(await p.locator('#face-result').innerText(), /^match Webcam person/);
  });
});
