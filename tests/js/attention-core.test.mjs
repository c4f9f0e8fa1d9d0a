// static/stylizer/sanet.js with the attention explorer's maps, on the shipped model in TF.js (Node, WASM): the maps
// come from the run's own transform (no extra graph run, the same pixels), kept first iterations hand them back
// without running anything, and no tensor is left behind. Rows against PyTorch: tests/model/test_attention.py.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { StylizeAborted } from '../../static/stylizer/sanet.js';
import { picture, stylizerFromDisk, useBackend } from '../../model/tfjs_node.mjs';
import { attentionRow, disposeMaps } from '../../static/stylizer/attention.js';

const MODEL = new URL('../../static/model/', import.meta.url).pathname;
let stylizer;

before(async () => {
  await useBackend(tf, 'wasm');
  ({ stylizer } = await stylizerFromDisk(MODEL, tf));
});
after(() => stylizer?.dispose());

const rowOf = async (maps, level, index) => { const t = attentionRow(tf, maps, level, index); const d = await t.data(); t.dispose(); return d; };

test('the maps come with the run: the same graph runs, the same pixels, a description of both grids', async () => {
  const c = picture(45, 70, 1), s = picture(60, 50, 2);
  const o = { iterations: 1, resolution: 64 };
  const plain = await stylizer.stylize(c, s, o);
  assert.equal(plain.attention, null);
  const tensors = tf.memory().numTensors;
  const r = await stylizer.stylize(c, s, { ...o, attention: true });
  assert.deepEqual(r.executions, plain.executions);                   // no extra graph run
  assert.deepEqual(r.rgb, plain.rgb);                                 // and t is unchanged
  const { desc, maps } = r.attention;
  assert.deepEqual(desc.output, [41, 64]);
  assert.deepEqual(desc.padded, [48, 64]);
  assert.deepEqual(desc.style, [60, 50]);
  assert.deepEqual(desc.levels.relu4_1, { stride: 8, content: [6, 8], styleGrid: [8, 8] });
  assert.deepEqual(desc.levels.relu5_1, { stride: 16, content: [3, 4], styleGrid: [4, 4] });
  const row = await rowOf(maps, 'relu4_1', 13);
  assert.equal(row.length, 64);
  assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.equal(tf.memory().numTensors, tensors + 4);                   // the caller's four maps
  disposeMaps(maps);
  assert.equal(tf.memory().numTensors, tensors);
});

test('kept first iterations keep their maps: a strength change runs no transform and gives the same rows', async () => {
  const c = picture(45, 70, 3, 'ca'), s = picture(60, 50, 4, 'sa');
  const o = { iterations: 1, resolution: 64 };
  const a = await stylizer.stylize(c, s, { ...o, attention: true });
  const b = await stylizer.stylize(c, s, { ...o, alpha: 0.5, attention: true });
  assert.equal(b.executions.transform, 1);                            // T(c, c) only
  const d = await stylizer.stylize(c, s, { ...o, alpha: 0.3, attention: true });
  assert.deepEqual(d.executions, { encoder: 0, transform: 0, decoder: 1 });
  for (const r of [b, d]) assert.deepEqual(await rowOf(r.attention.maps, 'relu5_1', 5), await rowOf(a.attention.maps, 'relu5_1', 5));
  const ref = await rowOf(a.attention.maps, 'relu4_1', 7);
  const tensors = tf.memory().numTensors;
  for (const r of [a, b, d]) disposeMaps(r.attention.maps);          // clones: the kept ones stay usable
  assert.equal(tf.memory().numTensors, tensors - 12);
  const e = await stylizer.stylize(c, s, { ...o, attention: true });
  assert.equal(e.executions.transform, 0);
  assert.deepEqual(await rowOf(e.attention.maps, 'relu4_1', 7), ref);
  disposeMaps(e.attention.maps);
  stylizer.clearCache();
});

test('a kept T(c, s) made without maps gets them from the query and key convs alone; two iterations use the last', async () => {
  const c = picture(45, 70, 5, 'cb'), s = picture(60, 50, 6, 'sb');
  const o = { iterations: 1, resolution: 64 };
  await stylizer.stylize(c, s, o);
  const late = await stylizer.stylize(c, s, { ...o, attention: true });
  assert.deepEqual(late.executions, { encoder: 0, transform: 1, decoder: 1 });
  stylizer.clearCache();
  const fresh = await stylizer.stylize({ ...c, key: undefined }, { ...s, key: undefined }, { ...o, attention: true });
  assert.deepEqual(await rowOf(late.attention.maps, 'relu4_1', 20), await rowOf(fresh.attention.maps, 'relu4_1', 20));
  const two = await stylizer.stylize({ ...c, key: undefined }, { ...s, key: undefined }, { ...o, iterations: 2, attention: true });
  assert.notDeepEqual(await rowOf(two.attention.maps, 'relu4_1', 20), await rowOf(fresh.attention.maps, 'relu4_1', 20));
  for (const r of [late, fresh, two]) disposeMaps(r.attention.maps);
  stylizer.clearCache();
});

test('a run cancelled after its transform leaves no maps behind', async () => {
  const c = picture(45, 70, 7), s = picture(60, 50, 8);
  const tensors = tf.memory().numTensors;
  const controller = new AbortController();
  await assert.rejects(stylizer.stylize(c, s, { iterations: 1, resolution: 64, attention: true }, {
    signal: controller.signal, onStage: (st) => { if (st.stage === 'decode') controller.abort(); },
  }), StylizeAborted);
  assert.equal(tf.memory().numTensors, tensors);
});
