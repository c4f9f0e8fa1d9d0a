// The same graphs and loop the widget runs, in TF.js on Node (wasm backend, SIMD), for bench/browser.py.
// node bench/tfjs_node.mjs MODEL_DIR [sizes, e.g. 256,512,1024] [repeats]
// Prints one JSON line: {backend, sizes: {"256": {first_ms, steady_ms}, ...}}.
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { validateManifest, shardPaths, toArtifacts } from '../static/stylizer/manifest.js';
import { planSizes, padAmounts } from '../static/stylizer/sizes.js';

const [modelDir, sizesArg = '256,512,1024', repeatsArg = '2'] = process.argv.slice(2);
const require = createRequire(import.meta.url);
setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');
await tf.setBackend('wasm');

const manifest = validateManifest(JSON.parse(readFileSync(join(modelDir, 'manifest.json'))));
const models = {};
for (const g of ['encoder', 'transform', 'decoder']) {
  const path = manifest.graphs[g].path;
  const mj = JSON.parse(readFileSync(join(modelDir, path)));
  const shards = shardPaths(path, mj).map((p) => { const b = readFileSync(join(modelDir, p)); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); });
  models[g] = await tf.loadGraphModel(tf.io.fromMemory(toArtifacts(mj, shards)));
}
const G = manifest.graphs;
const encode = (x) => models.encoder.execute({ [G.encoder.inputs[0]]: x }, G.encoder.outputs);
const image = (h, w, seed) => tf.tidy(() => {
  const x = tf.sin(tf.range(0, h * w * 3).mul(0.0131 + seed)).mul(0.5).add(0.5).reshape([1, h, w, 3]);
  const [ph, pw] = padAmounts(h, w, manifest.size_multiple);
  return ph || pw ? tf.mirrorPad(x, [[0, 0], [0, ph], [0, pw], [0, 0]], 'reflect') : x;
});

function stylize(res) {  // one iteration, alpha 1, a 4:3 photo and a square style, like bench/browser.py
  const sizes = planSizes({ content: [Math.round(res * 0.75), res], style: [512, 512], resolution: res,
    styleMaxResolution: manifest.style_max_resolution });
  const t0 = performance.now();
  const s = image(...sizes.style, 1);
  const [s4, s5] = encode(s);
  const c = image(...sizes.output, 0);
  const [c4, c5] = encode(c);
  const [a, b, cc, d] = G.transform.inputs;
  const t = models.transform.execute({ [a]: c4, [b]: s4, [cc]: c5, [d]: s5 }, G.transform.outputs[0]);
  const y = models.decoder.execute({ [G.decoder.inputs[0]]: t }, G.decoder.outputs[0]);
  y.dataSync();
  tf.dispose([s, s4, s5, c, c4, c5, t, y]);
  return performance.now() - t0;
}

const out = { backend: 'wasm (Node ' + process.version + ')', sizes: {} };
for (const res of sizesArg.split(',').map(Number)) {
  const first = stylize(res);
  const rest = [];
  for (let i = 0; i < Number(repeatsArg); i++) rest.push(stylize(res));
  rest.sort((x, y) => x - y);
  out.sizes[res] = { first_ms: Math.round(first), steady_ms: Math.round(rest[Math.floor(rest.length / 2)]) };
}
console.log(JSON.stringify(out));
