import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRun, runFraction, loadFraction, describe, formatBytes } from '../../static/stylizer/progress.js';
import { candidateBackends, chooseBackend, closeEnough, classifyError, fallbackAction, wasmThreads, previewWorthIt, MAX_WASM_THREADS } from '../../static/stylizer/backend.js';
import { checkFile, capSize, cameraMessage } from '../../static/stylizer/images.js';

test('a run plans style encoding once, then encode/transform/decode per iteration', () => {
  const steps = planRun({ iterations: 3, alpha: 0.5 });
  assert.deepEqual(steps.slice(0, 2).map((s) => s.stage), ['encode-style', 'encode-content-style']);
  assert.equal(steps.length, 2 + 9);
  assert.deepEqual(steps.at(-1), { stage: 'decode', iteration: 3, iterations: 3, cost: 1 });
  const cached = planRun({ iterations: 2, alpha: 1, styleCached: true });
  assert.deepEqual(cached.map((s) => s.stage), ['encode', 'transform', 'decode', 'encode', 'transform', 'decode']);
  const mixed = planRun({ iterations: 1, alpha: 0.5, mix: true });
  assert.deepEqual(mixed.map((s) => s.stage), ['encode-style', 'encode-style2', 'encode-content-style', 'encode', 'transform', 'decode']);
});

test('a kept first iteration plans only a blend and a decode; costs follow the pixels', () => {
  const steps = planRun({ iterations: 1, output: [384, 512], encodeStyles: [], firstEncoded: true, firstTransformed: true });
  assert.deepEqual(steps.map((s) => [s.stage, !!s.cached]), [['transform', true], ['decode', false]]);
  assert.ok(steps[0].cost < 0.1 * steps[1].cost);
  const two = planRun({ iterations: 2, output: [384, 512], encodeStyles: [], firstEncoded: true });
  assert.deepEqual(two.map((s) => s.stage), ['transform', 'decode', 'encode', 'transform', 'decode']);
  const big = planRun({ iterations: 1, output: [768, 1024] });
  const small = planRun({ iterations: 1, output: [192, 256] });
  assert.equal(big.at(-1).cost, 16 * small.at(-1).cost);
  assert.ok(runFraction(big, 1) > 0 && runFraction(big, 1) < runFraction(big, 2));
});

test('progress fractions rise monotonically to 1', () => {
  const steps = planRun({ iterations: 4, alpha: 0.3 });
  let last = -1;
  for (let i = 0; i <= steps.length; i++) {
    const f = runFraction(steps, i);
    assert.ok(f > last);
    last = f;
  }
  assert.equal(last, 1);
  assert.ok(loadFraction('download', 5, 10) < loadFraction('download', 10, 10));
  assert.ok(loadFraction('download', 10, 10) <= loadFraction('selftest', 0, 1));
  assert.ok(loadFraction('warmup', 1, 1) <= 1 && loadFraction('ready') === 1);
});

test('status lines name the stage, the iteration and the bytes', () => {
  assert.match(describe({ stage: 'transform', iteration: 2, iterations: 4 }), /Iteration 2 of 4/);
  assert.match(describe({ stage: 'download', done: 1536, total: 3 * 1024 * 1024 }), /2 kB of 3\.0 MB/);
  assert.match(describe({ stage: 'download', fromCache: true }), /cache/);
  assert.match(describe({ stage: 'transform', iteration: 1, iterations: 1, cached: true }), /blending/);
  assert.match(describe({ stage: 'encode-style2' }), /second style/);
  assert.equal(formatBytes(12), '12 B');
});

test('the fastest correct backend wins; incorrect or failed ones never do', () => {
  assert.deepEqual(candidateBackends({ hasWebGPU: true }), ['wasm', 'webgl', 'webgpu']);
  assert.deepEqual(candidateBackends({ hasWebGL: false }), ['wasm']);
  const r = chooseBackend([
    { backend: 'webgpu', ok: false, error: 'not available' },
    { backend: 'webgl', ok: true, ms: 40 },
    { backend: 'wasm', ok: true, ms: 12 },
    { backend: 'fast-but-wrong', ok: false, ms: 1 },
  ]);
  assert.deepEqual(r, { chosen: 'wasm', ranking: ['wasm', 'webgl'] });
  assert.deepEqual(chooseBackend([{ backend: 'webgl', ok: true, ms: NaN }]), { chosen: null, ranking: [] });
});

test('self-test comparison catches wrong and NaN results', () => {
  assert.equal(closeEnough([1, 2, 3], [1, 2, 3.001]).ok, true);
  assert.equal(closeEnough([1, 2, 3.5], [1, 2, 3]).ok, false);
  assert.equal(closeEnough([1, NaN], [1, 2]).ok, false);
  assert.equal(closeEnough([1], [1, 2]).ok, false);
});

test('out of memory shrinks first, then changes backend; a lost context changes backend', () => {
  assert.equal(classifyError(new Error('Failed to allocate 268435456 bytes')), 'oom');
  assert.equal(classifyError(new RangeError('Invalid array length')), 'oom');
  assert.equal(classifyError(new Error('WebGL context lost.')), 'context-lost');
  assert.equal(classifyError(new Error('shape mismatch')), 'other');
  const ranking = ['webgl', 'wasm'];
  assert.deepEqual(fallbackAction({ kind: 'oom', resolution: 1024, backend: 'webgl', ranking }), { action: 'retry-smaller', resolution: 704 });
  assert.deepEqual(fallbackAction({ kind: 'oom', resolution: 256, backend: 'webgl', ranking }), { action: 'switch-backend', backend: 'wasm' });
  assert.deepEqual(fallbackAction({ kind: 'context-lost', resolution: 1024, backend: 'webgl', ranking }), { action: 'switch-backend', backend: 'wasm' });
  assert.deepEqual(fallbackAction({ kind: 'oom', resolution: 256, backend: 'wasm', ranking, tried: ['webgl'] }), { action: 'give-up' });
  assert.deepEqual(fallbackAction({ kind: 'other', resolution: 1024, backend: 'webgl', ranking }), { action: 'give-up' });
});

test('file checks give reader-facing messages', () => {
  assert.match(checkFile(new File([], 'empty.jpg', { type: 'image/jpeg' })), /empty \(0 bytes\)/);
  assert.match(checkFile(new File(['hello'], 'notes.txt', { type: 'text/plain' })), /not an image/);
  assert.equal(checkFile(new File(['x'], 'a.png', { type: 'image/png' })), null);
  assert.equal(checkFile(new File(['x'], 'noext', { type: '' })), null); // unknown type: let the decoder decide
  assert.deepEqual(capSize(4000, 3000), [2048, 1536]);
  assert.deepEqual(capSize(300, 200), [300, 200]);
});

test('WASM threads: one without isolation, else every core up to the cap, or what a page asks for', () => {
  assert.equal(wasmThreads({ cores: 8, isolated: false }), 1);
  assert.equal(wasmThreads({ cores: 2, isolated: true }), 2);        // TF.js's own default would be 1 here
  assert.equal(wasmThreads({ cores: 64, isolated: true }), MAX_WASM_THREADS);
  assert.equal(wasmThreads({ cores: 8, isolated: true, requested: 1 }), 1);
  assert.equal(wasmThreads({ cores: 8, isolated: true, requested: 'x' }), 8);
  assert.equal(wasmThreads({ cores: undefined, isolated: true }), 1);
});

test('a preview runs only when the full run costs over twice as much', () => {
  const full = planRun({ iterations: 1, output: [384, 512] });
  const quick = planRun({ iterations: 1, output: [192, 256] });
  assert.equal(previewWorthIt({ preview: 256, resolution: 512, previewSteps: quick, fullSteps: full }), true);
  assert.equal(previewWorthIt({ preview: 0, resolution: 512, previewSteps: quick, fullSteps: full }), false);
  assert.equal(previewWorthIt({ preview: 256, resolution: 288, previewSteps: quick, fullSteps: full }), false);
  const strengthOnly = planRun({ iterations: 1, output: [384, 512], encodeStyles: [], firstEncoded: true, firstTransformed: true });
  assert.equal(previewWorthIt({ preview: 256, resolution: 512, previewSteps: quick, fullSteps: strengthOnly }), false);
  const quickKept = planRun({ iterations: 1, output: [192, 256], encodeStyles: [], firstEncoded: true, firstTransformed: true });
  assert.equal(previewWorthIt({ preview: 256, resolution: 1024, previewSteps: quickKept, fullSteps: strengthOnly }), false);
  const secondIteration = planRun({ iterations: 2, output: [384, 512], encodeStyles: [], firstEncoded: true, firstTransformed: true });
  assert.equal(previewWorthIt({ preview: 256, resolution: 512, previewSteps: quickKept, fullSteps: secondIteration }), true);
});

test('camera failures get messages a reader can act on', () => {
  assert.match(cameraMessage({ name: 'NotAllowedError' }), /refused.*settings/);
  assert.match(cameraMessage({ name: 'NotFoundError' }), /No camera/);
  assert.match(cameraMessage({ name: 'NotReadableError' }), /another application/);
  assert.match(cameraMessage({ name: 'NotSupportedError' }), /https/);
  assert.match(cameraMessage(new Error('boom')), /boom/);
  assert.match(describe({ stage: 'decode', iteration: 1, iterations: 2, phase: 'preview' }), /^Quick preview: Iteration 1 of 2/);
});
