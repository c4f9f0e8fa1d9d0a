// Attention rows as the page computes them, in Node, for tests/model/test_attention.py: the model downloaded and
// verified by static/stylizer/model-store.js (over a local HTTP server, as in the browser), a run of
// static/stylizer/sanet.js with the explorer's maps, and rows from static/stylizer/attention.js.
//
//   node tests/model/attention_rows.mjs MODEL_DIR CASE_DIR [wasm|cpu]
//
// CASE_DIR/case.json: {"content": {"file", "shape": [H, W, 3]}, "style": {...}, "options": {iterations,
// resolution, alpha}, "positions": [{"level", "x", "y"}]}; images are float32 little-endian RGB in [0, 1] at
// their own sizes (the page's code resizes and pads them). Writes CASE_DIR/result.json: {desc, rows: [{level,
// x, y, row, col, index, n, sum}], backend} and CASE_DIR/rows.bin (the rows' weights, float32, in order).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../../static/stylizer/model-store.js';
import { createStylizer, loadGraphs } from '../../static/stylizer/sanet.js';
import { attentionRow, cellAt, disposeMaps } from '../../static/stylizer/attention.js';
import { readImage as readRgb, serve, useBackend } from '../../model/tfjs_node.mjs';

const [modelDir, caseDir, backend = 'wasm'] = process.argv.slice(2);
if (!modelDir || !caseDir) {
  console.error('usage: node tests/model/attention_rows.mjs MODEL_DIR CASE_DIR [wasm|cpu]');
  process.exit(2);
}

function readImage(spec) {
  const [height, width, channels] = spec.shape;
  if (channels !== 3) throw new Error(`${spec.file}: shape ${spec.shape} is not (H, W, 3)`);
  return readRgb(join(caseDir, spec.file), height, width);
}

await useBackend(tf, backend);

const server = await serve(modelDir);
try {
  const { manifest, artifacts } = await loadModel(`http://127.0.0.1:${server.address().port}/manifest.json`);
  const stylizer = createStylizer(await loadGraphs(manifest, artifacts, tf), tf);
  const spec = JSON.parse(readFileSync(join(caseDir, 'case.json'), 'utf8'));
  const out = await stylizer.stylize(readImage(spec.content), readImage(spec.style), { ...spec.options, attention: true });
  if (!out.attention) throw new Error('the run returned no attention maps (does the manifest list them?)');
  const { desc, maps } = out.attention;
  const rows = [];
  const chunks = [];
  for (const p of spec.positions) {
    const cell = cellAt(desc, p.level, p.x, p.y);
    const t = attentionRow(tf, maps, p.level, cell.index);
    const w = await t.data();
    t.dispose();
    chunks.push(Float32Array.from(w));
    rows.push({ ...p, ...cell, n: w.length, sum: w.reduce((a, b) => a + b, 0) });
  }
  disposeMaps(maps);
  const all = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) { all.set(c, off); off += c.length; }
  writeFileSync(join(caseDir, 'rows.bin'), Buffer.from(all.buffer));
  writeFileSync(join(caseDir, 'result.json'), JSON.stringify({ desc, rows, backend: tf.getBackend(), version: manifest.version,
    executions: out.executions }));
  stylizer.dispose();
  console.log(`ok: ${rows.length} rows, ${tf.getBackend()}`);
} catch (err) {
  console.error(`attention_rows: ${err.stack || err.message}`);
  process.exitCode = 1;
} finally {
  server.close();
}
