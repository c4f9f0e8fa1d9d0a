// What every Node runner of the page's code needs (model/tfjs_parity.mjs, tests/model/attention_rows.mjs,
// bench/tfjs_node.mjs, tests/js/*-core.test.mjs), written once: TF.js's WASM backend pointed at its binaries,
// an export read from disk into a stylizer, the export served over HTTP so that the page's own
// static/stylizer/model-store.js can download and verify it, and raw float32 images.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { validateManifest, shardPaths, toArtifacts, GRAPH_NAMES } from '../static/stylizer/manifest.js';
import { createStylizer, loadGraphs } from '../static/stylizer/sanet.js';

/** Select `backend` ('wasm' or 'cpu') for `tf`; the WASM binaries come from node_modules. */
export async function useBackend(tf, backend = 'wasm') {
  if (backend === 'wasm') {
    const require = createRequire(import.meta.url);
    setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
  }
  await tf.setBackend(backend);
  await tf.ready();
}

const arrayBuffer = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);

/** An export folder (manifest.json and its graphs) read from disk: {manifest, stylizer}. */
export async function stylizerFromDisk(modelDir, tf) {
  const manifest = validateManifest(JSON.parse(readFileSync(join(modelDir, 'manifest.json'))));
  const artifacts = {};
  for (const g of GRAPH_NAMES) {
    const path = manifest.graphs[g].path;
    const mj = JSON.parse(readFileSync(join(modelDir, path)));
    artifacts[g] = toArtifacts(mj, shardPaths(path, mj).map((p) => arrayBuffer(readFileSync(join(modelDir, p)))));
  }
  return { manifest, stylizer: createStylizer(await loadGraphs(manifest, artifacts, tf), tf) };
}

/** Serve `root` on a free localhost port (paths resolve exactly as in the browser); resolves to the server. */
export function serve(root) {
  const server = createServer((req, res) => {
    const path = resolve(root, '.' + decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!path.startsWith(resolve(root))) { res.writeHead(403).end(); return; }
    try { res.writeHead(200).end(readFileSync(path)); } catch { res.writeHead(404).end(); }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

/** A float32 little-endian file of interleaved RGB as the core's image: {width, height, rgb}. */
export function readImage(path, height, width) {
  const rgb = new Float32Array(arrayBuffer(readFileSync(path)));
  if (rgb.length !== height * width * 3) throw new Error(`${path}: ${rgb.length} floats, not ${height}x${width}x3`);
  return { width, height, rgb };
}

/** A smooth synthetic picture h x w (seeded), with an optional key (the core keeps features of keyed images). */
export function picture(h, w, seed, key) {
  const rgb = new Float32Array(h * w * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = 0.5 + 0.45 * Math.sin(i * (0.013 + seed * 0.007) + seed);
  return { width: w, height: h, rgb, ...(key && { key }) };
}
