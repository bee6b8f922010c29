// A static file server for the browser tests, the demo and the benchmark: serves a folder
// on 127.0.0.1 with the right MIME types (application/wasm matters: browsers compile wasm
// while it streams only with it).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.pgm': 'image/x-portable-graymap', '.svg': 'image/svg+xml', '.ts': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** Serves `root`; resolves to {server, url}. `mounts` maps URL prefixes to other folders. */
export async function serve(root, { port = 0, mounts = {} } = {}) {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    try {
      let path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      let dir = base;
      for (const [prefix, folder] of Object.entries(mounts)) {
        if (path.startsWith(prefix)) { dir = resolve(folder); path = '/' + path.slice(prefix.length); break; }
      }
      let file = normalize(join(dir, path));
      if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
      if ((await stat(file).catch(() => null))?.isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': body.length, 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((ok) => server.listen(port, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

/** Launch options for Debian's Chromium, headless, as root, with no background network. */
export const chromiumOptions = {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};

/** The demo's layout: www/ at the root, the package at /pkg/, signature_pad at /vendor/. */
export function serveDemo(port = 0) {
  return serve('www', { port, mounts: { '/pkg/': 'pkg', '/vendor/': 'node_modules/signature_pad/dist' } });
}

// `node scripts/serve.mjs [port]` serves the demo until interrupted.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { url } = await serveDemo(Number(process.argv[2] ?? 8080));
  console.log(`demo: ${url}/  (Ctrl-C to stop)`);
}
