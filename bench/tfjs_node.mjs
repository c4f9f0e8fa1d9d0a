// The widget's stylization (static/stylizer/sanet.js, the code the page runs) in TF.js on Node (wasm backend,
// SIMD), for bench/browser.py.
// node bench/tfjs_node.mjs MODEL_DIR [sizes, e.g. 256,512,1024] [repeats] [attention]
// Prints one JSON line: {backend, sizes: {"256": {first_ms, steady_ms, runs_ms}, ...}}; steady_ms is the median
// of the repeats. With "attention" each run also returns the attention explorer's maps, as the widget's full runs
// do, and each size adds row_ms: the median time of one explorer row (relu4_1, 20 positions), read back.
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { planSizes } from '../static/stylizer/sizes.js';
import { attentionRow, disposeMaps } from '../static/stylizer/attention.js';
import { stylizerFromDisk, useBackend } from '../model/tfjs_node.mjs';

const [modelDir, sizesArg = '256,512,1024', repeatsArg = '3', mode = ''] = process.argv.slice(2);
const attention = mode === 'attention';
await useBackend(tf, 'wasm');
const { manifest, stylizer } = await stylizerFromDisk(modelDir, tf);

/** A smooth synthetic picture, already at the size the run uses (no key: nothing is kept between runs). */
const image = ([h, w], seed) => {
  const rgb = new Float32Array(h * w * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = 0.5 + 0.5 * Math.sin(i * (0.0131 + seed));
  return { width: w, height: h, rgb };
};

function images(res) {  // a 4:3 photo and a square 512 px style, like bench/browser.py
  const sizes = planSizes({ content: [Math.round(res * 0.75), res], style: [512, 512], resolution: res,
    styleMaxResolution: manifest.style_max_resolution });
  return [image(sizes.output, 0), image(sizes.style, 1)];
}

let rowMs = [];
async function stylize(res) {  // one iteration, alpha 1; the style is encoded in every run, like the first
  const [content, style] = images(res);
  const r = await stylizer.stylize(content, style, { iterations: 1, alpha: 1, resolution: res, attention });
  if (r.attention) {
    const { maps } = r.attention;
    const n = maps.relu4_1.query.shape[1] * maps.relu4_1.query.shape[2];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const t = attentionRow(tf, maps, 'relu4_1', Math.floor(((i + 0.5) / 20) * n));
      await t.data();
      t.dispose();
      rowMs.push(performance.now() - t0);
    }
    disposeMaps(maps);
  }
  return r.ms;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const out = { backend: 'wasm (Node ' + process.version + ')', threads: getThreadsCount(), attention, sizes: {} };
for (const res of sizesArg.split(',').map(Number)) {
  const first = await stylize(res);
  const rest = [];
  rowMs = [];
  for (let i = 0; i < Number(repeatsArg); i++) rest.push(await stylize(res));
  out.sizes[res] = { first_ms: Math.round(first), steady_ms: Math.round(median(rest)), runs_ms: rest.map(Math.round),
    ...(attention && { row_ms: Number(median(rowMs).toFixed(2)) }) };
}
console.log(JSON.stringify(out));
