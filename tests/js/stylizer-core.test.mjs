// static/stylizer/sanet.js, the stylization loop the page runs, on the shipped model in TF.js (Node, WASM):
// what it keeps between runs, style mixing, cancellation and tensor hygiene.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { StylizeAborted } from '../../static/stylizer/sanet.js';
import { picture, stylizerFromDisk, useBackend } from '../../model/tfjs_node.mjs';
import { ImageSizeError } from '../../static/stylizer/sizes.js';

const MODEL = new URL('../../static/model/', import.meta.url).pathname;
let stylizer;

before(async () => {
  await useBackend(tf, 'wasm');
  ({ stylizer } = await stylizerFromDisk(MODEL, tf));
});
after(() => stylizer?.dispose());

const unkeyed = ({ width, height, rgb }) => ({ width, height, rgb });
const NONE = { encoder: 0, transform: 0, decoder: 0 };

test('a strength-only change reuses the kept features: one blend and one decode, the same pixels', async () => {
  const c = picture(45, 70, 1, 'c1'), s = picture(60, 50, 2, 's1');
  const o = { iterations: 1, resolution: 64 };
  const a = await stylizer.stylize(c, s, { ...o, alpha: 1 });
  assert.deepEqual(a.executions, { encoder: 2, transform: 1, decoder: 1 });       // style, content; T(c, s)
  assert.deepEqual([a.height, a.width], [41, 64]);
  const b = await stylizer.stylize(c, s, { ...o, alpha: 0.5 });
  assert.deepEqual(b.executions, { encoder: 1, transform: 1, decoder: 1 });       // + the content as a style, T(c, c)
  const tensors = tf.memory().numTensors;
  const steps = stylizer.plan(c, s, { ...o, alpha: 0.25 });
  assert.deepEqual(steps.map((x) => x.stage), ['transform', 'decode']);
  assert.equal(steps[0].cached, true);
  const d = await stylizer.stylize(c, s, { ...o, alpha: 0.25 });
  assert.deepEqual(d.executions, { ...NONE, decoder: 1 });
  assert.equal(tf.memory().numTensors, tensors, 'a re-run leaked tensors');
  // the kept features give exactly what a fresh run computes
  const fresh = await stylizer.stylize(unkeyed(c), unkeyed(s), { ...o, alpha: 0.25 });
  assert.deepEqual(fresh.executions, { encoder: 3, transform: 2, decoder: 1 });
  assert.deepEqual(d.rgb, fresh.rgb);
  assert.notDeepEqual(d.rgb, a.rgb);
  // two sizes of one photo are kept (a preview's and the full one); a third size, or another photo, replaces them
  const encodes = (opts, content = c) => stylizer.plan(content, s, { ...o, ...opts }).some((x) => x.stage === 'encode');
  await stylizer.stylize(c, s, { ...o, alpha: 1 });
  await stylizer.stylize(c, s, { ...o, resolution: 80, alpha: 1 });
  assert.equal(encodes({ alpha: 1 }), false);
  assert.equal(encodes({ resolution: 80, alpha: 1 }), false);
  await stylizer.stylize(c, s, { ...o, resolution: 96, alpha: 1 });
  assert.equal(encodes({ alpha: 1 }), true);
  await stylizer.stylize(picture(45, 70, 12, 'c1b'), s, { ...o, alpha: 1 });
  assert.equal(encodes({ resolution: 96, alpha: 1 }), true);
});

test('later iterations always run whole: they depend on the previous output', async () => {
  const c = picture(48, 64, 3, 'c2'), s = picture(48, 48, 4, 's2');
  await stylizer.stylize(c, s, { iterations: 2, resolution: 64, alpha: 1 });
  const r = await stylizer.stylize(c, s, { iterations: 2, resolution: 64, alpha: 0.6 });
  // first iteration: content as a style + T(c, c) + decode; second: encode + 2 transforms + decode
  assert.deepEqual(r.executions, { encoder: 2, transform: 3, decoder: 2 });
});

test('mixing two styles: the weight blends the transformed features before decoding', async () => {
  const c = picture(48, 64, 5, 'c3'), s1 = picture(64, 64, 6, 's3'), s2 = picture(70, 40, 7, 's4');
  const o = { iterations: 1, resolution: 64, alpha: 1 };
  const only1 = await stylizer.stylize(c, s1, o);
  const only2 = await stylizer.stylize(c, s2, o);
  assert.deepEqual((await stylizer.stylize(c, s1, { ...o, style2: s2, mix: 1 })).rgb, only1.rgb); // mix 1: no second style
  const zero = await stylizer.stylize(c, s1, { ...o, style2: s2, mix: 0 });
  assert.deepEqual(zero.rgb, only2.rgb);
  const half = await stylizer.stylize(c, s1, { ...o, style2: s2, mix: 0.5 });
  assert.deepEqual(half.executions, { ...NONE, decoder: 1 });                     // both T(c, s) were kept
  const diff = (x, y) => x.reduce((acc, v, i) => acc + Math.abs(v - y[i]), 0) / x.length;
  assert.ok(diff(half.rgb, only1.rgb) > 1e-3 && diff(half.rgb, only2.rgb) > 1e-3);
  const both = await stylizer.stylize(c, s1, { ...o, alpha: 0.5, style2: s2, mix: 0.3 });
  assert.deepEqual(both.executions, { encoder: 1, transform: 1, decoder: 1 });
});

test('cancelling stops at the next step and leaves no tensors behind', async () => {
  const c = picture(48, 64, 8, 'c5'), s = picture(48, 48, 9, 's5');
  const tensors = tf.memory().numTensors;
  const controller = new AbortController();
  const stages = [];
  await assert.rejects(stylizer.stylize(c, s, { iterations: 3, resolution: 64, alpha: 0.5 }, {
    signal: controller.signal,
    onStage: (st) => { stages.push(st.stage); if (st.stage === 'transform') controller.abort(); },
  }), StylizeAborted);
  assert.deepEqual(stages, ['encode-style', 'encode-content-style', 'encode', 'transform']);
  const kept = tf.memory().numTensors - tensors;
  // what a finished run keeps: two style encodings (2 tensors each) and the first iteration (c4, c5, T's)
  assert.ok(kept <= 4 + 2 + 2, `${kept} tensors left`);
  stylizer.clearCache();
  assert.ok(tf.memory().numTensors <= tensors, 'clearCache left tensors');
});

test('progress: the steps reported are the plan, in order, with growing indices', async () => {
  const c = picture(48, 64, 10, 'c6'), s = picture(48, 48, 11, 's6');
  const o = { iterations: 2, resolution: 64, alpha: 0.5 };
  const plan = stylizer.plan(c, s, o);
  const seen = [];
  await stylizer.stylize(c, s, o, { onStage: (st) => seen.push(st) });
  assert.deepEqual(seen.map((st) => st.stage), plan.map((st) => st.stage));
  assert.deepEqual(seen.map((st) => st.index), plan.map((_, i) => i));
  assert.ok(seen.every((st) => st.total === plan.length && st.cost > 0));
});

test('bad inputs: a too-thin image is an ImageSizeError; bad controls are refused', async () => {
  await assert.rejects(stylizer.stylize(picture(10, 200, 1), picture(64, 64, 2), { resolution: 256 }), ImageSizeError);
  await assert.rejects(stylizer.stylize(picture(64, 64, 1), picture(64, 64, 2), { resolution: 64, alpha: 2 }), /alpha/);
  await assert.rejects(stylizer.stylize(picture(64, 64, 1), picture(64, 64, 2), { resolution: 64, iterations: 0 }), /iterations/);
});
