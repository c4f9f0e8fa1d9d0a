import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roundHalfEven, fitLongSide, paddedSize, padAmounts, planSizes, clampResolution, smallerResolution, maxResolutionFor, ImageSizeError } from '../../static/stylizer/sizes.js';

test('roundHalfEven rounds like Python', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 2.4999, 2.5001, 3.5].map(roundHalfEven), [0, 2, 2, 2, 3, 4]);
});

test('fitLongSide keeps the aspect ratio and hits the long side exactly', () => {
  assert.deepEqual(fitLongSide(300, 400, 256), [192, 256]);
  assert.deepEqual(fitLongSide(400, 300, 512), [512, 384]);
  assert.deepEqual(fitLongSide(100, 100, 1024), [1024, 1024]); // upscales too: the output size is the resolution
  const [h, w] = fitLongSide(1080, 1920, 768);
  assert.equal(w, 768);
  assert.ok(Math.abs(h / w - 1080 / 1920) < 1 / w);
});

test('padding reaches the next multiple of 16, bottom/right only', () => {
  assert.deepEqual(paddedSize(192, 256), [192, 256]);
  assert.deepEqual(paddedSize(193, 250), [208, 256]);
  assert.deepEqual(padAmounts(37, 53), [11, 11]);
  assert.deepEqual(padAmounts(32, 48), [0, 0]);
});

test('planSizes: output at the resolution, style fitted within min(style max, resolution)', () => {
  const p = planSizes({ content: [300, 400], style: [1000, 800], resolution: 1024 });
  assert.deepEqual(p.output, [768, 1024]);
  assert.deepEqual(p.style, [512, 410]);
  assert.deepEqual(p.stylePadded, [512, 416]);
  assert.deepEqual(p.contentAsStyle, [300, 400]); // never upscaled, like the Python pipeline
  const q = planSizes({ content: [300, 400], style: [1000, 800], resolution: 256 });
  assert.deepEqual(q.style, [256, 205]);
  assert.deepEqual(q.contentAsStyle, [192, 256]);
  assert.deepEqual(planSizes({ content: [300, 400], style: [100, 120], resolution: 512 }).style, [100, 120]);
});

test('planSizes rejects images too thin for the network, with a message and its own error class', () => {
  assert.throws(() => planSizes({ content: [20, 400], style: [256, 256], resolution: 256 }), /too narrow.*at least 32 px/);
  assert.throws(() => planSizes({ content: [256, 256], style: [10, 500], resolution: 256 }), /style image is too narrow/);
  assert.throws(() => planSizes({ content: [256, 256], style: [256, 256], style2: [500, 20], resolution: 256 }),
    /second style image is too narrow/);
  assert.throws(() => planSizes({ content: [20, 400], style: [256, 256], resolution: 256 }), ImageSizeError);
  assert.ok(new ImageSizeError('x') instanceof RangeError);
  assert.throws(() => fitLongSide(0, 10, 256), (e) => !(e instanceof ImageSizeError)); // a bug, not the reader's image
});

test('a second style is fitted like the first', () => {
  const p = planSizes({ content: [300, 400], style: [1000, 800], style2: [437, 300], resolution: 288 });
  assert.deepEqual(p.style2, [288, 198]);
  assert.deepEqual(p.style2Padded, [288, 208]);
  assert.equal(planSizes({ content: [300, 400], style: [100, 100], resolution: 288 }).style2, undefined);
});

test('resolution clamping, shrinking and device ceilings', () => {
  assert.equal(clampResolution(1000, { max: 1024 }), 992);
  assert.equal(clampResolution(5000, { max: 1024 }), 1024);
  assert.equal(clampResolution('abc'), 256);
  assert.equal(smallerResolution(1024), 704);
  assert.equal(smallerResolution(300), 256);
  assert.equal(smallerResolution(256), null);
  assert.ok(maxResolutionFor({ backend: 'webgl', deviceMemory: 8 }) > maxResolutionFor({ backend: 'wasm', deviceMemory: 2 }));
});
