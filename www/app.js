// The demo page: UI only. Models and embeddings live in worker.js; pen strokes go there
// as strokes (so they are rendered exactly as the trainer rendered pen data), camera and
// uploaded pictures as ImageData, whose largest face the worker finds and aligns.
import SignaturePad from '/vendor/signature_pad.js';

const $ = (id) => document.getElementById(id);

// ---- the worker, as promises ----
const worker = new Worker('worker.js', { type: 'module' });
const pending = new Map();
let nextId = 0;
const info = {};
const loadState = { signature: 0, face: 0 };

worker.onmessage = ({ data }) => {
  if (data.type === 'progress') return showProgress(data);
  if (data.type === 'notice') return setStatus(data.message);
  const p = pending.get(data.id);
  pending.delete(data.id);
  if (data.ok) p.resolve(data.result);
  else p.reject(Object.assign(new Error(data.error.message), { code: data.error.code }));
};
const call = (kind, op, ...args) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  worker.postMessage({ id, op, kind, args });
});

function setStatus(text) { $('status-text').textContent = text; }
function showProgress({ kind, phase, loaded, total }) {
  // Each model counts for half the bar: download is most of the wait.
  loadState[kind] = phase === 'ready' ? 1 : phase === 'download' && total ? 0.8 * loaded / total : phase === 'download' ? 0.1 : 0.9;
  $('load-progress').value = (loadState.signature + loadState.face) / 2;
  setStatus(`${kind} model: ${phase}${phase === 'download' && total ? ` ${Math.round(100 * loaded / total)}%` : ''}`);
}

// ---- tabs (arrow keys move between them) ----
const tabs = [$('tab-signature'), $('tab-face')];
function select(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
  tab.focus();
}
for (const t of tabs) {
  t.addEventListener('click', () => select(t));
  t.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(t);
    if (e.key === 'ArrowRight') select(tabs[(i + 1) % tabs.length]);
    if (e.key === 'ArrowLeft') select(tabs[(i + tabs.length - 1) % tabs.length]);
  });
}

// ---- results: always text, never HTML ----
function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}
function gauge(score, threshold) {
  // Cosine scores of this model fall in [0, 1] in practice; the mark is the threshold.
  const pct = (x) => `${Math.max(0, Math.min(1, x)) * 100}%`;
  const g = el('div', { className: 'gauge', role: 'img', ariaLabel: `score ${score.toFixed(3)}, threshold ${threshold.toFixed(3)}` });
  g.append(el('div', { className: 'fill', style: `width:${pct(score)};background:${score >= threshold ? '#2da44e' : '#cf222e'}` }),
    el('div', { className: 'mark', style: `left:${pct(threshold)}` }));
  return g;
}
function showResult(box, rows) {
  box.replaceChildren(...rows.map(({ id, score, match, threshold, motion }) => el('div', { className: 'row' },
    el('span', { className: match ? 'match' : 'nomatch', textContent: match ? 'match' : 'no match' }),
    ` ${id}: score ${score.toFixed(3)} (threshold ${threshold.toFixed(3)})`,
    gauge(score, threshold),
    // Drawn signatures are also compared by how the pen moved (order, direction, rhythm).
    ...(motion ? [el('div', { className: 'motion', textContent: `pen motion: distance ${motion.distance.toFixed(3)} (accepted up to ${motion.threshold.toFixed(3)}): ${motion.match ? 'written alike' : 'written differently'}` })] : []))));
}
function showError(box, e) {
  box.replaceChildren(el('p', { className: 'error', textContent: `${e.code ?? 'error'}: ${e.message}` }));
}
const guard = (box, f) => async (...a) => { try { await f(...a); } catch (e) { showError(box, e); } };

// ---- one flow for both kinds: collect samples, enrol, verify, identify ----
function flow(kind, { getSample, nameInput, addBtn, countEl, enrolBtn, verifyBtn, identifyBtn, resultBox }) {
  let samples = [];
  const count = () => {
    countEl.textContent = `${samples.length} sample${samples.length === 1 ? '' : 's'}`;
    enrolBtn.disabled = samples.length < 1;
  };
  const name = () => {
    const n = nameInput.value.trim();
    if (!n) { nameInput.focus(); throw Object.assign(new Error('type a name first'), { code: 'no_name' }); }
    return n;
  };
  addBtn.addEventListener('click', guard(resultBox, async () => {
    samples.push(await getSample(true));
    count();
    resultBox.replaceChildren(el('p', { textContent: `Sample ${samples.length} kept. Enrol after 3 to 5.` }));
  }));
  enrolBtn.addEventListener('click', guard(resultBox, async () => {
    const id = name();
    const r = await call(kind, 'enroll', id, samples).catch(async (e) => {
      if (e.code !== 'duplicate_id' || !confirm(`${id} is already enrolled. Replace?`)) throw e;
      await call(kind, 'remove', id);
      return call(kind, 'enroll', id, samples);
    });
    samples = [];
    count();
    resultBox.replaceChildren(el('p', { textContent: `Enrolled ${r.id} with ${r.samples} samples.` }));
    await refreshGallery();
  }));
  verifyBtn.addEventListener('click', guard(resultBox, async () => {
    const r = await call(kind, 'verify', name(), await getSample());
    showResult(resultBox, [r]);
  }));
  identifyBtn.addEventListener('click', guard(resultBox, async () => {
    const hits = await call(kind, 'identify', await getSample(), 3);
    if (!hits.length) return resultBox.replaceChildren(el('p', { textContent: 'Nobody is enrolled yet.' }));
    showResult(resultBox, hits.map((h) => ({ ...h, threshold: info[kind].threshold })));
  }));
  count();
}

// ---- signature: signature_pad's points become strokes [[{x, y, t, p}]] ----
const pad = new SignaturePad($('pad'), { minWidth: 1, maxWidth: 2.5, penColor: '#123' });
function fitPad() {
  // Match the canvas's pixels to its CSS size (and the screen's density) so the pen is where the pointer is.
  const c = $('pad'), ratio = Math.max(window.devicePixelRatio || 1, 1), data = pad.toData();
  c.width = c.offsetWidth * ratio;
  c.height = c.offsetHeight * ratio;
  c.getContext('2d').scale(ratio, ratio);
  pad.fromData(data);
}
window.addEventListener('resize', fitPad);
fitPad();
$('pad-clear').addEventListener('click', () => pad.clear());
// A drawing stays on the pad after verify/identify so the user sees what was checked; the
// next stroke then starts a fresh drawing.
let padUsed = false;
pad.addEventListener('beginStroke', () => {
  if (padUsed) pad.clear();
  padUsed = false;
});
flow('signature', {
  getSample: async (forEnrolment) => {
    if (pad.isEmpty()) throw Object.assign(new Error('draw a signature on the pad first'), { code: 'no_ink' });
    const strokes = pad.toData().map((g) => g.points.map((p) => ({ x: p.x, y: p.y, t: p.time, p: p.pressure })));
    if (forEnrolment) pad.clear();
    else padUsed = true;
    return strokes;
  },
  nameInput: $('sig-name'), addBtn: $('sig-add'), countEl: $('sig-count'), enrolBtn: $('sig-enrol'),
  verifyBtn: $('sig-verify'), identifyBtn: $('sig-identify'), resultBox: $('sig-result'),
});

// ---- face: webcam (with a live box over the face) or upload ----
// A picture goes to the worker whole (at most MAX_SIDE pixels on a side); the worker finds
// its largest face and aligns it, and the preview shows that aligned crop: what is compared.
const MAX_SIDE = 640;
// The live box needs no detail: the detector looks at 128 x 128 pixels.
const LIVE_SIDE = 320;
const video = $('video'), overlay = $('face-overlay'), still = $('face-still');
let facePicture = null;

// One canvas for reading pixels, reused by every frame of the live box.
const reader = document.createElement('canvas');
const readerContext = reader.getContext('2d', { willReadFrequently: true });
function pixels(source, w, h, maxSide) {
  const s = Math.min(1, maxSide / Math.max(w, h));
  const [cw, ch] = [Math.round(w * s), Math.round(h * s)];
  if (reader.width !== cw || reader.height !== ch) Object.assign(reader, { width: cw, height: ch });
  readerContext.clearRect(0, 0, cw, ch); // a transparent upload must not show the last frame
  readerContext.drawImage(source, 0, 0, cw, ch);
  return readerContext.getImageData(0, 0, cw, ch);
}
// Keeps a picture as the face sample if a face is found in it, and shows its aligned crop.
async function keepPicture(picture) {
  facePicture = null;
  const g = still.getContext('2d');
  g.fillStyle = '#000';
  g.fillRect(0, 0, still.width, still.height);
  const { crop } = await call('face', 'align', picture);
  const c = Object.assign(document.createElement('canvas'), { width: crop.width, height: crop.height });
  c.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(crop.data), crop.width, crop.height), 0, 0);
  g.drawImage(c, 0, 0, still.width, still.height);
  facePicture = picture;
  $('face-result').replaceChildren(el('p', { textContent: 'Face found: the crop on the right is what will be compared.' }));
}

// The live box: one detection in flight at a time, drawn in video pixels on a canvas laid
// over the video with the same fit and mirroring (style.css), so it sits on the face.
let tracking = false;
function drawFaces(faces, scale) {
  overlay.width = video.videoWidth;
  overlay.height = video.videoHeight;
  const g = overlay.getContext('2d');
  g.clearRect(0, 0, overlay.width, overlay.height);
  const largest = faces.reduce((a, b) => (!a || b.width * b.height >= a.width * a.height ? b : a), null);
  for (const f of faces) {
    g.lineWidth = Math.max(2, overlay.width / 160);
    g.strokeStyle = f === largest ? '#2da44e' : 'rgba(255, 255, 255, 0.8)';
    g.strokeRect(f.x / scale, f.y / scale, f.width / scale, f.height / scale);
  }
  overlay.dataset.faces = String(faces.length);
  const say = faces.length ? `${faces.length === 1 ? 'a face' : `${faces.length} faces`} in view (green: the one that is used)` : 'no face in view';
  if ($('face-live').textContent !== say) $('face-live').textContent = say;
}
async function track() {
  while (tracking) {
    if (!$('panel-face').hidden && video.readyState >= 2) {
      const frame = pixels(video, video.videoWidth, video.videoHeight, LIVE_SIDE);
      const faces = await call('face', 'detect', frame).catch(() => []);
      if (tracking) drawFaces(faces, frame.width / video.videoWidth);
    }
    await new Promise((r) => requestAnimationFrame(r));
  }
}
$('cam-start').addEventListener('click', guard($('face-result'), async () => {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, facingMode: 'user' } });
  video.srcObject = stream;
  await video.play();
  $('cam-snap').disabled = false;
  if (!tracking) {
    tracking = true;
    track();
  }
}));
$('cam-snap').addEventListener('click', guard($('face-result'), async () => {
  await keepPicture(pixels(video, video.videoWidth, video.videoHeight, MAX_SIDE));
}));
$('face-file').addEventListener('change', guard($('face-result'), async (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  const bmp = await createImageBitmap(file);
  await keepPicture(pixels(bmp, bmp.width, bmp.height, MAX_SIDE));
}));
flow('face', {
  getSample: async () => {
    if (!facePicture) throw Object.assign(new Error('take a picture or upload a photo with a face first'), { code: 'no_picture' });
    return facePicture;
  },
  nameInput: $('face-name'), addBtn: $('face-add'), countEl: $('face-count'), enrolBtn: $('face-enrol'),
  verifyBtn: $('face-verify'), identifyBtn: $('face-identify'), resultBox: $('face-result'),
});

// ---- gallery ----
async function refreshGallery() {
  const items = [];
  for (const kind of ['signature', 'face']) {
    for (const { id, samples } of await call(kind, 'list')) {
      const del = el('button', { type: 'button', textContent: 'Delete', ariaLabel: `Delete ${id} (${kind})` });
      del.addEventListener('click', async () => { await call(kind, 'remove', id); await refreshGallery(); });
      items.push(el('li', {}, el('span', {}, el('strong', { textContent: id }), el('br'),
        el('span', { className: 'kind', textContent: `${kind} · ${samples} sample${samples === 1 ? '' : 's'}` })), del));
    }
  }
  $('gallery-list').replaceChildren(...(items.length ? items : [el('li', { textContent: 'Nobody yet.' })]));
}
$('gallery-export').addEventListener('click', async () => {
  const data = { signature: await call('signature', 'exportGallery'), face: await call('face', 'exportGallery') };
  const a = el('a', { href: URL.createObjectURL(new Blob([JSON.stringify(data)], { type: 'application/json' })), download: 'siamese-gallery.json' });
  a.click();
  URL.revokeObjectURL(a.href);
});
$('gallery-import').addEventListener('change', guard($('sig-result'), async (e) => {
  const file = e.target.files[0];
  e.target.value = '';
  const data = JSON.parse(await file.text());
  for (const kind of ['signature', 'face']) if (data[kind]) await call(kind, 'importGallery', data[kind]);
  await refreshGallery();
}));
$('gallery-clear').addEventListener('click', async () => {
  if (!confirm('Remove every enrolment?')) return;
  await call('signature', 'clear');
  await call('face', 'clear');
  await refreshGallery();
});

// ---- start ----
if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch((e) => console.warn('no offline support:', e));
Promise.all(['signature', 'face'].map(async (k) => { info[k] = await call(k, 'info'); }))
  .then(async () => {
    $('load-progress').value = 1;
    setStatus(`ready: signature threshold ${info.signature.threshold.toFixed(3)}, face threshold ${info.face.threshold.toFixed(3)}`);
    document.body.dataset.ready = 'true';
    await refreshGallery();
  })
  .catch((e) => setStatus(`could not load the models: ${e.code ?? ''} ${e.message}`));
