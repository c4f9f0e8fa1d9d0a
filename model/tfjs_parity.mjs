// Runs an exported TF.js model with the page's own code (static/stylizer/model-store.js to download and verify,
// static/stylizer/sanet.js to stylize) in Node, and writes what it computes, for model/tfjs_check.py.
//
//   node model/tfjs_parity.mjs MODEL_DIR CASE_DIR [wasm|cpu]
//
// MODEL_DIR holds manifest.json (served over a local HTTP server, so paths resolve exactly as in the browser).
// CASE_DIR/case.json: {"content": {"file", "shape"}, "style": {...}, "iterations": n, "alpha": a}, float32
// little-endian NHWC files, content and style already padded to multiples of 16 and at their final sizes (the
// content's long side is the resolution, so nothing is resized). Writes CASE_DIR/out-{relu4_1,relu5_1,t}.bin
// (the first iteration), out-image.bin and result.json (shapes, timings, backend). Exits non-zero with a message
// on any failure.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../static/stylizer/model-store.js';
import { createStylizer, loadGraphs } from '../static/stylizer/sanet.js';
import { planSizes } from '../static/stylizer/sizes.js';
import { readImage as readRgb, serve, useBackend } from './tfjs_node.mjs';

const [modelDir, caseDir, backend = 'wasm'] = process.argv.slice(2);
if (!modelDir || !caseDir) {
  console.error('usage: node model/tfjs_parity.mjs MODEL_DIR CASE_DIR [wasm|cpu]');
  process.exit(2);
}

/** An NHWC float32 file as the core's image: {width, height, rgb} (batch 1, so the data is interleaved HWC). */
function readImage(spec) {
  const [n, height, width, channels] = spec.shape;
  if (n !== 1 || channels !== 3) throw new Error(`${spec.file}: shape ${spec.shape} is not (1, H, W, 3)`);
  return readRgb(join(caseDir, spec.file), height, width);
}

function write(name, data, shape) {
  writeFileSync(join(caseDir, `out-${name}.bin`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return shape;
}

await useBackend(tf, backend);

const server = await serve(modelDir);
const base = `http://127.0.0.1:${server.address().port}/`;
try {
  // what the page downloads, verified against the manifest's sizes and sha256 as the page does
  const { manifest, artifacts } = await loadModel(base + 'manifest.json');
  const stylizer = createStylizer(await loadGraphs(manifest, artifacts, tf), tf);
  const spec = JSON.parse(readFileSync(join(caseDir, 'case.json'), 'utf8'));
  const content = readImage(spec.content), style = readImage(spec.style);
  const options = { iterations: spec.iterations, alpha: spec.alpha, resolution: Math.max(content.height, content.width) };
  const sizes = planSizes({ content: [content.height, content.width], style: [style.height, style.width],
    resolution: options.resolution, styleMaxResolution: manifest.style_max_resolution, multiple: manifest.size_multiple,
    minSide: manifest.min_side });
  const same = (a, b) => a[0] === b[0] && a[1] === b[1];
  const [h, w] = [content.height, content.width];
  if (!same(sizes.output, [h, w]) || !same(sizes.style, [style.height, style.width]) ||
      (spec.alpha < 1 && !same(sizes.contentAsStyle, [h, w])) || h % manifest.size_multiple || w % manifest.size_multiple) {
    throw new Error(`inputs must be padded and at their final sizes (content ${h}x${w}, style ${style.height}x` +
      `${style.width}, style_max_resolution ${manifest.style_max_resolution}): the page would resize them`);
  }
  const first = {};
  const out = await stylizer.stylize(content, style, options, {
    onTensor: async (name, t) => { first[name] = { data: await t.data(), shape: t.shape }; },
  });
  const shapes = {};
  for (const [name, { data, shape }] of Object.entries(first)) shapes[name] = write(name, data, shape);
  shapes.image = write('image', out.rgb, [1, out.height, out.width, 3]);
  writeFileSync(join(caseDir, 'result.json'), JSON.stringify({ backend: tf.getBackend(), ms: out.ms, shapes, version: manifest.version }));
  console.log(`ok: ${tf.getBackend()} backend, ${out.ms.toFixed(0)} ms, image ${shapes.image}`);
  stylizer.dispose();
} catch (err) {
  console.error(`tfjs_parity: ${err.message}`);
  process.exitCode = 1;
} finally {
  server.close();
}
