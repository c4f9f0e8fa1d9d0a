import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterTaps, resizeBilinearAA, rgbaToRgbFloat, rgbFloatToRgba } from '../../static/stylizer/resize.js';

test('taps are normalised and stay inside the image', () => {
  for (const [n, m] of [[37, 16], [16, 37], [300, 256], [5, 5], [7, 1]]) {
    for (const { start, weights } of filterTaps(n, m)) {
      assert.ok(start >= 0 && start + weights.length <= n);
      assert.ok(Math.abs(weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    }
  }
});

test('halving uses the antialiasing [1,3,3,1]/8 triangle filter', () => {
  const { start, weights } = filterTaps(16, 8)[3];
  assert.equal(start, 5);
  assert.deepEqual([...weights].map((w) => w * 8), [1, 3, 3, 1]);
});

test('same size is an exact copy; constant images stay constant', () => {
  const src = Float32Array.from({ length: 5 * 7 * 3 }, (_, i) => (i % 11) / 10);
  assert.deepEqual(resizeBilinearAA(src, 5, 7, 3, 5, 7), src);
  const flat = new Float32Array(40 * 30 * 3).fill(0.25);
  for (const [h, w] of [[13, 17], [80, 61]]) {
    for (const v of resizeBilinearAA(flat, 40, 30, 3, h, w)) assert.ok(Math.abs(v - 0.25) < 1e-6);
  }
});

test('a horizontal ramp stays a monotonic ramp when downscaled', () => {
  const h = 4, w = 64;
  const src = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) src[y * w + x] = x / (w - 1);
  const out = resizeBilinearAA(src, h, w, 1, 2, 16);
  for (let x = 1; x < 16; x++) assert.ok(out[x] > out[x - 1]);
  assert.ok(Math.abs(out[7] + out[8] - 1) < 1e-6); // symmetric about the centre
});

test('RGBA <-> RGB float round trip is lossless for bytes', () => {
  const rgba = Uint8ClampedArray.from([0, 128, 255, 255, 17, 34, 51, 255]);
  assert.deepEqual([...rgbFloatToRgba(rgbaToRgbFloat(rgba))], [...rgba]);
  const clipped = rgbFloatToRgba(Float32Array.from([-0.2, 1.3, 0.5]));
  assert.deepEqual([...clipped], [0, 255, 128, 255]);
});
