// static/stylizer/attention.js: the explorer's maths without a browser. One row against a plain-JS softmax of
// dot products (TF.js CPU backend), positions and arrow keys on the padded grid, the text alternative, the heat
// map's pixels and the reflection padding the network applies. Rows against PyTorch: tests/model/test_attention.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  attentionLevels, transformOutputs, splitOutputs, describeAttention, attentionRow, cellAt, moveCell, sameCell,
  summarizeRow, heatColor, heatmapRGBA, reflectPadRGBA, disposeMaps, attentionPanel,
} from '../../static/stylizer/attention.js';
import { validateManifest } from '../../static/stylizer/manifest.js';

const LEVELS = { relu4_1: { query: 'q4', key: 'k4', stride: 8 }, relu5_1: { query: 'q5', key: 'k5', stride: 16 } };
function manifest({ attention = { graph: 'transform', levels: LEVELS }, outputs = ['t', 'q4', 'k4', 'q5', 'k5'] } = {}) {
  const files = {};
  const graphs = {};
  for (const [g, inputs, outs] of [['encoder', ['image'], ['relu4_1', 'relu5_1']], ['transform', ['c4', 's4', 'c5', 's5'], outputs],
    ['decoder', ['t'], ['image']]]) {
    graphs[g] = { path: `v/${g}/model.json`, inputs, outputs: outs };
    files[`v/${g}/model.json`] = { bytes: 1, sha256: 'a'.repeat(64) };
  }
  return { format: 1, version: 'v', size_multiple: 16, min_side: 32, style_max_resolution: 512, graphs, files,
    ...(attention && { attention }) };
}

test('the manifest names the maps; older exports (t only) have no explorer and still validate', () => {
  const m = validateManifest(manifest());
  assert.deepEqual(attentionLevels(m), LEVELS);
  assert.deepEqual(transformOutputs(m, true), ['t', 'q4', 'k4', 'q5', 'k5']);
  assert.deepEqual(transformOutputs(m, false), ['t']);
  const old = validateManifest(manifest({ attention: null, outputs: ['t'] }));
  assert.equal(attentionLevels(old), null);
  assert.deepEqual(transformOutputs(old, true), ['t']);
  assert.deepEqual(splitOutputs(old, 'T'), { t: 'T', maps: null });
  assert.deepEqual(splitOutputs(m, ['T', 'a', 'b', 'c', 'd']).maps, { relu4_1: { query: 'a', key: 'b' }, relu5_1: { query: 'c', key: 'd' } });
  // an attention entry naming outputs the transform lacks is refused, naming the level
  assert.throws(() => validateManifest(manifest({ outputs: ['t', 'q4', 'k4'] })), /attention level "relu5_1"/);
  assert.throws(() => validateManifest(manifest({ outputs: [] })), /transform.*at least 1 output/);
});

test('a row is the softmax of one query against every key, sums to 1, and costs no tensors', async () => {
  await tf.setBackend('cpu');
  const rnd = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed * 78.233) * 1.5);
  const C = 16;
  const q = tf.tensor4d(rnd(3 * 5 * C, 1), [1, 3, 5, C]);
  const k = tf.tensor4d(rnd(4 * 4 * C, 2), [1, 4, 4, C]);
  const maps = { relu4_1: { query: q, key: k } };
  const before = tf.memory().numTensors;
  const qs = await q.data(), ks = await k.data();
  for (const index of [0, 7, 14]) {
    const t = attentionRow(tf, maps, 'relu4_1', index);
    const row = await t.data();
    t.dispose();
    const logits = Array.from({ length: 16 }, (_, j) => {
      let s = 0;
      for (let c = 0; c < C; c++) s += qs[index * C + c] * ks[j * C + c];
      return s;
    });
    const mx = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - mx));
    const z = e.reduce((a, b) => a + b, 0);
    assert.equal(row.length, 16);
    for (let j = 0; j < 16; j++) assert.ok(Math.abs(row[j] - e[j] / z) < 1e-6, `weight ${j}: ${row[j]} vs ${e[j] / z}`);
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  }
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => attentionRow(tf, maps, 'relu4_1', 15), /outside the 3x5 grid/);
  assert.throws(() => attentionRow(tf, maps, 'relu5_1', 0), /no attention level/);
  disposeMaps(maps);
  assert.equal(tf.memory().numTensors, before - 2);
});

// a 100x150 output padded to 112x160; relu4_1 grid 14x20, relu5_1 7x10; a 60x90 style padded to 64x96
const fakeMap = (shape) => ({ shape });
const DESC = describeAttention(manifest(), {
  relu4_1: { query: fakeMap([1, 14, 20, 512]), key: fakeMap([1, 8, 12, 512]) },
  relu5_1: { query: fakeMap([1, 7, 10, 512]), key: fakeMap([1, 4, 6, 512]) },
}, { output: [100, 150], style: [60, 90] }, 16);

test('positions: output pixels map to cells of the padded grid; arrows stay on the photo; levels keep the point', () => {
  assert.deepEqual(DESC.padded, [112, 160]);
  assert.deepEqual(DESC.stylePadded, [64, 96]);
  assert.deepEqual(DESC.levels.relu4_1, { stride: 8, content: [14, 20], styleGrid: [8, 12] });
  assert.deepEqual(cellAt(DESC, 'relu4_1', 0, 0), { row: 0, col: 0, index: 0 });
  assert.deepEqual(cellAt(DESC, 'relu4_1', 17.9, 8), { row: 1, col: 2, index: 22 });
  assert.deepEqual(cellAt(DESC, 'relu4_1', 149.5, 99.5), { row: 12, col: 18, index: 258 });   // last visible cell
  assert.deepEqual(cellAt(DESC, 'relu4_1', 1e6, -5), { row: 0, col: 18, index: 18 });         // clamped to the photo
  assert.deepEqual(cellAt(DESC, 'relu5_1', 149, 99), { row: 6, col: 9, index: 69 });
  const start = cellAt(DESC, 'relu4_1', 149, 99);
  assert.deepEqual(moveCell(DESC, 'relu4_1', start, 'ArrowDown'), start);                     // row 12 is the last with photo
  assert.deepEqual(moveCell(DESC, 'relu4_1', start, 'ArrowLeft', 4), { row: 12, col: 14, index: 254 });
  assert.deepEqual(moveCell(DESC, 'relu4_1', { row: 0, col: 0 }, 'ArrowUp'), { row: 0, col: 0, index: 0 });
  assert.equal(moveCell(DESC, 'relu4_1', start, 'Enter'), null);
  assert.deepEqual(sameCell(DESC, 'relu4_1', 'relu5_1', { row: 5, col: 3 }), { row: 2, col: 1, index: 21 });
  assert.deepEqual(sameCell(DESC, 'relu5_1', 'relu4_1', { row: 2, col: 1 }), { row: 5, col: 3, index: 103 });
});

test('the text alternative names the region, the top cells\' share and the padding strip', () => {
  const [rows, cols] = DESC.levels.relu4_1.styleGrid;            // 8 x 12 cells over a 60x90 style (pad: 4 px, 6 px)
  const w = new Float64Array(rows * cols).fill(0.2 / (rows * cols - 6));
  const hot = [[0, 0, 0.3], [0, 1, 0.2], [1, 0, 0.1], [1, 1, 0.1], [7, 11, 0.06], [7, 0, 0.04]];
  for (const [r, c, v] of hot) w[r * cols + c] = v;
  const s = summarizeRow(w, [rows, cols], [60, 90], 8);
  assert.ok(Math.abs(s.sum - 1) < 1e-12);
  assert.deepEqual(s.top.map((t) => [t.row, t.col]), [[0, 0], [0, 1], [1, 0], [1, 1], [7, 11]]);
  assert.ok(Math.abs(s.topShare - 0.76) < 1e-12 && s.max === 0.3);
  assert.equal(s.region.name, 'upper left');
  // row 7 (centre y 60) and column 11 (centre x 92) lie past the 60x90 image: the reflected strip
  const strip = 0.06 + 0.04 + (rows + cols - 1 - 2) * (0.2 / (rows * cols - 6));
  assert.ok(Math.abs(s.padShare - strip) < 1e-12, `${s.padShare} vs ${strip}`);
  assert.match(s.text, /^Most weight near the upper left of the style image \(\d+% in that ninth of it\), 76% in the top 5 cells; the strongest cell holds 30%\. \d+(\.\d)?% falls on the reflected strip/);
  // all of a row's weight on the strip (as the trained model often gives): the text leads with the strip
  const stripOnly = new Float64Array(rows * cols);
  stripOnly[7 * cols + 3] = 0.81;
  stripOnly[7 * cols + 4] = 0.19;
  const s2 = summarizeRow(stripOnly, [rows, cols], [60, 90], 8);
  assert.ok(Math.abs(s2.padShare - 1) < 1e-12);
  assert.equal(s2.text, 'Most weight on the reflected strip past the style image\'s edge (100%), 100% in the top 5 cells; '
    + 'the strongest cell holds 81%.');
  const flat = summarizeRow(new Float64Array(9 * 9).fill(1 / 81), [9, 9], [72, 72], 8);
  assert.match(flat.text, /6\.2% in the top 5 cells; the strongest cell holds 1\.2%\.$/);
  assert.throws(() => summarizeRow(new Float64Array(5), [2, 3], [16, 24], 8), /5 weights for a 2x3 grid/);
});

test('heat map pixels: the palette runs dark to bright, opacity grows with weight; padding mirrors without the edge', () => {
  assert.deepEqual(heatColor(0), [0, 0, 4]);
  assert.deepEqual(heatColor(1), [252, 255, 164]);
  const lum = (v) => heatColor(v).reduce((a, b) => a + b, 0);
  for (let v = 0.1; v <= 1; v += 0.1) assert.ok(lum(v) > lum(v - 0.1), `palette not brightening at ${v}`);
  const px = heatmapRGBA(Float32Array.from([0, 0.25, 1, 0.5]), 2, 2);
  assert.equal(px.length, 16);
  assert.deepEqual([...px.subarray(8, 12)], [252, 255, 164, 255]);
  assert.ok(px[3] < px[7] && px[7] < px[15] && px[15] < px[11]);
  // a 3x4 RGBA image padded to 4x6: row 3 mirrors row 1 (row 2 is the edge, not repeated), columns 4, 5 mirror 2, 1
  const img = Uint8ClampedArray.from({ length: 3 * 4 * 4 }, (_, i) => i);
  const out = reflectPadRGBA(img, 3, 4, 4, 6);
  const at = (d, W, y, x) => [...d.subarray(4 * (y * W + x), 4 * (y * W + x) + 4)];
  assert.deepEqual(at(out, 6, 2, 3), at(img, 4, 2, 3));
  assert.deepEqual(at(out, 6, 3, 0), at(img, 4, 1, 0));
  assert.deepEqual(at(out, 6, 0, 4), at(img, 4, 0, 2));
  assert.deepEqual(at(out, 6, 3, 5), at(img, 4, 1, 1));
});

test('the panel: the hot cell in the brightest colour, the rest veiled, the strongest ringed, the edge dashed', () => {
  const [SH, SW, sh, sw, stride] = [64, 96, 60, 90, 8];
  const base = new Uint8ClampedArray(SH * SW * 4).fill(200);
  const w = new Float64Array(8 * 12).fill(0);
  w[3 * 12 + 5] = 0.9; w[0] = 0.1;
  const s = summarizeRow(w, [8, 12], [sh, sw], stride);
  assert.deepEqual(s.marked.map((t) => t.index), [41, 0]);          // the zero cells are not outlined
  const px = attentionPanel(base, w, { grid: [8, 12], stride, style: [sh, sw], padded: [SH, SW] }, s);
  const at = (x, y) => [...px.subarray(4 * (y * SW + x), 4 * (y * SW + x) + 3)];
  assert.deepEqual(at(5 * 8 + 4, 3 * 8 + 4), [252, 255, 164]);         // inside the hot cell
  assert.deepEqual(at(5 * 8, 3 * 8), [255, 255, 255]);                 // its outline
  const far = at(70, 50);                                              // a zero-weight cell: veiled base, darker
  assert.ok(far.every((v) => v < 200 * 0.55 + 1), far);
  const ring = at(Math.round(5.5 * 8 + 20), Math.round(3.5 * 8));      // R = 2.5 * stride = 20 px right of the centre
  assert.deepEqual(ring, [255, 255, 255]);
  assert.deepEqual(at(0, sh), [255, 255, 255]);                        // the dashed edge of the style image
  assert.deepEqual(at(sw, 1), [255, 255, 255]);
});
