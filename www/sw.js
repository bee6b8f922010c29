// Offline support: every file the demo needs is cached at install; requests go to the
// network first (so an online visit is always fresh) and fall back to the cache offline.
const CACHE = 'siamese-demo-v3';
const FILES = [
  './', 'index.html', 'style.css', 'app.js', 'worker.js',
  '/vendor/signature_pad.js',
  // Both wasm builds: the package picks one by what the engine supports (js/index.js).
  '/pkg/index.js', '/pkg/siamese_wasm.js', '/pkg/siamese_wasm_bg.wasm', '/pkg/siamese_wasm_relaxed_bg.wasm',
  '/pkg/models/signature.onnx', '/pkg/models/face-recognition.onnx',
  '/pkg/models/face-detector.onnx', '/pkg/models/face-landmarks.onnx',
];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (e) => {
  if (e.request.method !== 'GET' || new URL(e.request.url).origin !== location.origin) return;
  e.respondWith(
    fetch(e.request)
      .then((res) => {
        if (res.ok) {
          const copy = res.clone();
          caches.open(CACHE).then((c) => c.put(e.request, copy));
        }
        return res;
      })
      .catch(() => caches.match(e.request, { ignoreSearch: true }).then((hit) => hit ?? Response.error())),
  );
});
