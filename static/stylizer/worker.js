// The stylizer engine: a module Web Worker, one per model per page, shared by every widget on the page.
// It loads TF.js and the model, picks the backend by a timed self-test, warms up, and runs stylizations
// one at a time with progress and cancellation at stage boundaries. Nothing here touches the network
// except the vendored TF.js files and the model files (images arrive as ImageBitmaps and never leave).

import { maxResolutionFor, ImageSizeError } from './sizes.js';
import { rgbaToRgbFloat, rgbFloatToRgba } from './resize.js';
import { candidateBackends, chooseBackend, closeEnough, classifyError, fallbackAction, wasmThreads, previewWorthIt } from './backend.js';
import { loadModel } from './model-store.js';
import { createStylizer, loadGraphs, StylizeAborted } from './sanet.js';
import { attentionRow, disposeMaps } from './attention.js';

let tf = null;
const S = {
  manifest: null, artifacts: null, stylizer: null, backend: null, ranking: [], selftest: [], threads: 1,
  maxResolution: 1024, lost: null, pixelCache: new Map(), queue: [], current: null, ready: null,
  attention: new Map(), // the attention explorer's maps of each widget's last result: key -> {desc, maps}
};
const PIXEL_CACHE_SIZE = 6; // decoded images (float RGB, up to 2048 px): content and styles of the last two choices
const post = (msg, transfer = []) => self.postMessage(msg, transfer);
const now = () => performance.now();

async function loadTf(vendorUrl, threads) {
  if (tf) return tf;
  await import(new URL('tf.min.js', vendorUrl).href); // UMD: sets globalThis.tf
  await import(new URL('tf-backend-wasm.min.js', vendorUrl).href);
  tf = globalThis.tf;
  tf.wasm.setWasmPaths(vendorUrl);
  tf.wasm.setThreadsCount(threads); // before the backend starts (see startBackend)
  S.threads = threads;
  if (await hasWebGPUAdapter()) {
    try { await import(new URL('tf-backend-webgpu.min.js', vendorUrl).href); } catch { /* no webgpu */ }
  }
  tf.env().set('WEBGL_USE_SHAPES_UNIFORMS', true); // fewer shader recompiles across image sizes
  return tf;
}

async function hasWebGPUAdapter() {
  try { return !!(self.navigator.gpu && (await self.navigator.gpu.requestAdapter())); } catch { return false; }
}

/**
 * tf.setBackend(name), with the WASM thread cap lifted. TF.js 4.22's threaded build caps its pool at
 * navigator.hardwareConcurrency / 2 (it assumes two hardware threads per core) whatever setThreadsCount asks:
 * one thread on a 2-core machine, which is why cross-origin isolation alone changed nothing. While the WASM
 * module starts (the cap is read once then), this worker's navigator reports twice the threads wanted.
 */
async function startBackend(name) {
  const lift = name === 'wasm' && S.threads > 1 && !tf.engine().registry.wasm;
  if (lift) Object.defineProperty(self.navigator, 'hardwareConcurrency', { configurable: true, get: () => 2 * S.threads });
  try {
    return await tf.setBackend(name);
  } finally {
    if (lift) delete self.navigator.hardwareConcurrency;
  }
}

/** Which WASM build runs and on how many threads (null before the WASM backend has started). */
function wasmInfo() {
  if (!tf.engine().registry.wasm) return null;
  const files = performance.getEntriesByType('resource').map((e) => e.name).filter((n) => /\.wasm($|\?)/.test(n));
  return { binary: files.length ? files.at(-1).split('/').pop().split('?')[0] : null, threads: tf.wasm.getThreadsCount() };
}

// ---------------------------------------------------------------- backend self-test
// A small VGG-like conv stack plus an attention-sized matmul and softmax: the ops SANet spends its time in.
function selftestInputs(size, ch) {
  return tf.tidy(() => {
    const x = tf.sin(tf.range(0, size * size * ch).mul(0.37)).reshape([1, size, size, ch]);
    const ws = [0, 1, 2].map((k) => tf.cos(tf.range(0, 9 * ch * ch).mul(0.11 + k)).mul(1 / (3 * ch)).reshape([3, 3, ch, ch]));
    return [x, ...ws];
  });
}
function selftestRun([x, ...ws]) {
  return tf.tidy(() => {
    let y = x;
    for (const w of ws) y = tf.relu(tf.conv2d(y, w, 1, 'same'));
    const f = y.reshape([-1, y.shape[3]]);
    const att = tf.softmax(tf.matMul(f, f, false, true).mul(0.01));
    return tf.matMul(att, f).mean(1);
  });
}

// A backend whose first run (shader compilation included) takes this long, and over COMPILE_RATIO times the
// best steady time so far, is recorded with that first time instead of being timed further: on a GPU-less
// machine WebGL runs on SwiftShader and compiling alone takes seconds.
const COMPILE_BUDGET_MS = 1500;
const COMPILE_RATIO = 10;

async function timeBackend(name, reference, bestSoFar = Infinity) {
  const t0 = now();
  try {
    if (!(await startBackend(name))) return { backend: name, ok: false, error: 'not available' };
    await tf.ready();
    // Correctness at a small size against the reference computed on the plain JS backend.
    const small = selftestInputs(16, 8);
    const got = await selftestRun(small).data();
    small.forEach((t) => t.dispose());
    const check = closeEnough(got, reference);
    if (!check.ok) return { backend: name, ok: false, error: `wrong results (max error ${check.maxError})` };
    // Speed at a size that stands for the real work; the first run compiles, the best of two counts.
    const big = selftestInputs(32, 32);
    const tFirst = now();
    await selftestRun(big).data();
    const firstMs = now() - tFirst;
    if (firstMs > COMPILE_BUDGET_MS && firstMs > COMPILE_RATIO * bestSoFar) {
      big.forEach((t) => t.dispose());
      return { backend: name, ok: true, ms: firstMs, firstMs, note: 'first run only: far slower than the best', setupMs: now() - t0 };
    }
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      const t = now();
      await selftestRun(big).data();
      best = Math.min(best, now() - t);
    }
    big.forEach((t) => t.dispose());
    return { backend: name, ok: true, ms: best, firstMs, setupMs: now() - t0 };
  } catch (e) {
    return { backend: name, ok: false, error: String(e && e.message || e) };
  }
}

async function chooseByMeasurement(forced) {
  await tf.setBackend('cpu');
  const small = selftestInputs(16, 8);
  const reference = await selftestRun(small).data();
  small.forEach((t) => t.dispose());
  const all = candidateBackends({ hasWebGPU: !!tf.findBackendFactory('webgpu'), hasWebGL: typeof OffscreenCanvas !== 'undefined', hasWasm: typeof WebAssembly !== 'undefined' });
  const candidates = forced ? all.filter((b) => b === forced) : all;
  const results = [];
  for (const b of candidates) {
    post({ type: 'progress', stage: 'selftest', backend: b, done: results.length, total: candidates.length });
    const best = Math.min(...results.filter((r) => r.ok).map((r) => r.ms));
    results.push(await timeBackend(b, reference, best));
  }
  const { chosen, ranking } = chooseBackend(results);
  // A forced backend (benchmarks, tests) still needs somewhere to fall back to: the others, unmeasured.
  if (forced) for (const b of all) if (!ranking.includes(b)) ranking.push(b);
  if (!chosen && !ranking.length) ranking.push('cpu'); // always compute something, slowly
  return { results, ranking };
}

/**
 * Free the backends the self-test started but the engine does not use (a WebGL context with its compiled
 * shaders and textures, a WebGPU device). Their factories stay registered, so a fallback can start them again.
 */
function releaseUnusedBackends(keep) {
  const engine = tf.engine();
  for (const name of ['webgl', 'webgpu']) {
    if (name === keep || !(name in engine.registry)) continue;
    const factory = tf.findBackendFactory(name);
    const priority = engine.registryFactory[name]?.priority ?? 1;
    tf.removeBackend(name);
    tf.registerBackend(name, factory, priority);
  }
}

// ---------------------------------------------------------------- the model
async function useBackend(name) {
  clearAttention(); // tensors of the backend being left
  if (S.stylizer) S.stylizer.dispose();
  S.stylizer = null;
  if (!(await startBackend(name))) throw new Error(`backend ${name} failed to start`);
  await tf.ready();
  watchContext(name);
  post({ type: 'progress', stage: 'compile', backend: name });
  S.stylizer = createStylizer(await loadGraphs(S.manifest, S.artifacts, tf), tf, { settle, read });
  S.backend = name;
  S.maxResolution = maxResolutionFor({ backend: name, deviceMemory: self.navigator.deviceMemory || 4 });
}

// ---------------------------------------------------------------- a lost WebGL context
// With a lost context WebGL calls do nothing and raise nothing (TF.js checks GL errors only in debug mode),
// so a run would finish with zeros, or wait forever on a read. Check at every stage boundary, and race each
// read against the context-lost event.
function watchContext(name) {
  S.lost = null;
  const canvas = name === 'webgl' && tf.backend().gpgpu?.gl?.canvas;
  if (!canvas) return;
  S.lost = new Promise((_, reject) => canvas.addEventListener('webglcontextlost',
    () => reject(new Error('WebGL context lost')), { once: true }));
  S.lost.catch(() => {}); // rejects with no run waiting when the context goes while idle
}

function contextLost() {
  if (S.backend !== 'webgl') return false;
  const gl = tf.backend().gpgpu?.gl;
  return !!(gl && gl.isContextLost());
}

function checkContext() {
  if (contextLost()) throw new Error('WebGL context lost');
}

/** A tensor's values, failing (not hanging) if the GPU context goes meanwhile. */
async function read(t) {
  checkContext();
  const values = await (S.lost ? Promise.race([t.data(), S.lost]) : t.data());
  checkContext();
  return values;
}

/** Force the backend to finish queued work (GPU backends run asynchronously), cheaply. */
async function settle(t) {
  if (S.backend === 'wasm' || S.backend === 'cpu') return;
  const one = tf.slice(t, [0, 0, 0, 0], [1, 1, 1, 1]);
  try { await read(one); } finally { one.dispose(); }
}

function pixelsOf(img) {
  const hit = S.pixelCache.get(img.key);
  if (hit) { S.pixelCache.delete(img.key); S.pixelCache.set(img.key, hit); return hit; }
  if (!img.bitmap && !img.rgba) throw new Error('image data missing');
  let width, height, data;
  if (img.rgba) ({ width, height, data } = img.rgba);
  else {
    ({ width, height } = img.bitmap);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(img.bitmap, 0, 0);
    data = ctx.getImageData(0, 0, width, height).data;
  }
  const pix = { key: img.key, width, height, rgb: rgbaToRgbFloat(data) };
  S.pixelCache.set(img.key, pix);
  while (S.pixelCache.size > PIXEL_CACHE_SIZE) S.pixelCache.delete(S.pixelCache.keys().next().value);
  return pix;
}

/** A job's images and controls, as the stylizer core takes them (the attention maps only for a full run). */
function inputsOf(job) {
  const p = job.params;
  const style2 = p.style2 ? pixelsOf(p.style2) : null;
  return {
    content: pixelsOf(p.content), style: pixelsOf(p.style),
    options: (resolution, full = false) => ({ iterations: p.iterations, resolution, alpha: p.alpha, style2,
      mix: style2 ? p.mix : 1, attention: full && p.attention != null }),
  };
}

// ---------------------------------------------------------------- the attention explorer
/** Keep a result's attention maps under the widget's key (its previous ones go); returns what the page needs. */
function keepAttention(key, attention) {
  if (!attention) return null;
  const old = S.attention.get(key);
  if (old) disposeMaps(old.maps);
  S.attention.set(key, attention);
  return attention.desc;
}

function clearAttention() {
  for (const a of S.attention.values()) disposeMaps(a.maps);
  S.attention.clear();
}

/** One row of weights for the explorer: computed here, on demand, from the kept maps. */
async function attentionRowMessage(msg) {
  try {
    const a = S.attention.get(msg.key);
    if (!a) throw new Error('this result\'s attention is no longer kept: stylize again to explore it');
    const t = attentionRow(tf, a.maps, msg.level, msg.index);
    let w;
    try { w = await read(t); } finally { t.dispose(); }
    const weights = w instanceof Float32Array ? w : Float32Array.from(w);
    post({ type: 'attention-row', req: msg.req, weights }, [weights.buffer]);
  } catch (e) {
    post({ type: 'attention-row', req: msg.req, error: String(e && e.message || e) });
  }
}

const tagged = (steps, phase) => steps.map((st) => ({ ...st, phase }));

/** One stylization at one resolution on the current backend: {width, height, pixels (RGBA bytes), ms, executions}. */
async function stylizeOnce(job, resolution, { phase = 'full', offset = 0 } = {}) {
  const { content, style, options } = inputsOf(job);
  const r = await S.stylizer.stylize(content, style, options(resolution, phase === 'full'), {
    signal: job.controller.signal,
    onStage: (st) => job.progress({ ...st, phase, index: offset + st.index }),
  });
  return { width: r.width, height: r.height, pixels: rgbFloatToRgba(r.rgb), ms: r.ms, executions: r.executions,
    attention: r.attention ? keepAttention(job.params.attention, r.attention) : null };
}

/**
 * The quick look: the same controls at the preview size, shown while the full resolution runs, when the full
 * run costs much more (a kept first iteration makes a strength change cheap: no preview then). Returns whether
 * the job goes on; a failed preview is simply skipped.
 */
async function preview(job, resolution) {
  const small = job.params.preview;
  const { content, style, options } = inputsOf(job);
  const full = S.stylizer.plan(content, style, options(resolution)); // too thin at full size: the job's error
  let quick = [];
  try {
    if (small) quick = S.stylizer.plan(content, style, options(small));
  } catch (e) {
    if (!(e instanceof ImageSizeError)) throw e; // too thin at the preview size only: no preview
  }
  if (!previewWorthIt({ preview: small, resolution, previewSteps: quick, fullSteps: full })) {
    post({ type: 'plan', id: job.id, steps: tagged(full, 'full') });
    return 0;
  }
  post({ type: 'plan', id: job.id, steps: [...tagged(quick, 'preview'), ...tagged(full, 'full')] });
  try {
    const r = await stylizeOnce(job, small, { phase: 'preview' });
    post({ type: 'preview', id: job.id, width: r.width, height: r.height, pixels: r.pixels.buffer, resolution: small,
      ms: r.ms }, [r.pixels.buffer]);
  } catch (e) {
    if (e instanceof StylizeAborted) throw e;
    S.stylizer.clearCache(); // e.g. out of memory: the full run meets it too, and falls back
  }
  return quick.length;
}

// ---------------------------------------------------------------- jobs
async function runJob(job) {
  try { await S.ready; } catch (e) {
    post({ type: 'error', id: job.id, kind: 'engine', message: `The model could not be loaded: ${e.message || e}` });
    return;
  }
  let resolution = Math.min(job.params.resolution, S.maxResolution);
  const notices = [];
  if (resolution < job.params.resolution) notices.push(`${job.params.resolution} px is more than this device offers; used ${resolution} px.`);
  const tried = [];
  let offset;
  try {
    offset = await preview(job, resolution);
  } catch (e) {
    if (e instanceof StylizeAborted) post({ type: 'cancelled', id: job.id });
    else post({ type: 'error', id: job.id, kind: 'input', message: e.message });
    return;
  }
  for (;;) {
    try {
      const r = await stylizeOnce(job, resolution, { offset });
      post({ type: 'result', id: job.id, width: r.width, height: r.height, pixels: r.pixels.buffer, resolution,
        backend: S.backend, ms: r.ms, executions: r.executions, notice: notices.join(' '), attention: r.attention,
        tensors: tf.memory().numTensors }, [r.pixels.buffer]);
      return;
    } catch (e) {
      if (e instanceof StylizeAborted) { post({ type: 'cancelled', id: job.id }); return; }
      if (e instanceof ImageSizeError) { post({ type: 'error', id: job.id, kind: 'input', message: e.message }); return; }
      const kind = contextLost() ? 'context-lost' : classifyError(e);
      tried.push(S.backend);
      const next = fallbackAction({ kind, resolution, backend: S.backend, ranking: S.ranking, tried });
      if (next.action === 'retry-smaller') {
        notices.push(`Ran out of memory at ${resolution} px; retried at ${next.resolution} px.`);
        resolution = next.resolution;
        S.stylizer.clearCache();
      } else if (next.action === 'switch-backend') {
        const why = kind === 'oom' ? 'ran out of memory' : 'lost its graphics context';
        notices.push(`The ${S.backend} engine ${why}; switched to ${next.backend}.`);
        try {
          await useBackend(next.backend);
          post({ type: 'backend', backend: S.backend, maxResolution: S.maxResolution, wasm: wasmInfo() });
        } catch (e2) {
          post({ type: 'error', id: job.id, kind: 'engine', message: `Stylizing failed: ${e2.message || e2}` });
          return;
        }
      } else {
        post({ type: 'error', id: job.id, kind, message: `Stylizing failed: ${e.message || e}` });
        return;
      }
      post({ type: 'progress', id: job.id, stage: 'fallback', message: notices[notices.length - 1] });
      const { content, style, options } = inputsOf(job);
      post({ type: 'plan', id: job.id, steps: tagged(S.stylizer.plan(content, style, options(resolution)), 'full') });
      offset = 0;
    }
  }
}

function makeJob(msg) {
  return {
    id: msg.id, params: msg, controller: new AbortController(),
    progress: (ev) => post({ type: 'progress', id: msg.id, ...ev }),
  };
}

async function pump() {
  if (S.current) return;
  while (S.queue.length) {
    S.current = S.queue.shift();
    try { await runJob(S.current); } finally { S.current = null; }
  }
}

// ---------------------------------------------------------------- init and warm-up
async function init(msg) {
  const timings = {};
  let t = now();
  // TF.js and the model download in parallel; the self-test needs only TF.js.
  const threads = wasmThreads({ cores: self.navigator.hardwareConcurrency, isolated: !!self.crossOriginIsolated, requested: msg.threads });
  const tfLoaded = loadTf(msg.vendorUrl, threads).then(() => { timings.tfMs = now() - t; });
  const modelLoaded = loadModel(msg.manifestUrl, (ev) => post({ type: 'progress', ...ev }))
    .then((r) => { timings.downloadMs = now() - t; return r; });
  modelLoaded.catch(() => {}); // reported below; keep an early failure from going unhandled meanwhile
  await tfLoaded;
  t = now();
  const { results, ranking } = await chooseByMeasurement(msg.backend);
  S.selftest = results;
  S.ranking = ranking;
  timings.selftestMs = now() - t;
  const { manifest, artifacts, stats } = await modelLoaded;
  S.manifest = manifest;
  S.artifacts = artifacts;
  t = now();
  await useBackend(ranking[0]);
  releaseUnusedBackends(S.backend);
  timings.compileMs = now() - t;
  t = now();
  post({ type: 'progress', stage: 'warmup' });
  await warmup(msg.warmupResolution || 512);
  timings.warmupMs = now() - t;
  post({
    type: 'ready', backend: S.backend, ranking, selftest: results, maxResolution: S.maxResolution, timings, stats,
    manifest: { name: manifest.name, version: manifest.version, trained: !!manifest.trained, description: manifest.description || '',
      training: manifest.training ? { interim: !!manifest.training.interim } : null },
    crossOriginIsolated: !!self.crossOriginIsolated, wasm: wasmInfo(),
  });
}

/** Run the whole pipeline once on synthetic images at the default size, so the first real run is fast. */
async function warmup(resolution) {
  const make = (h, w, seed) => {
    const rgb = new Float32Array(h * w * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = 0.5 + 0.5 * Math.sin(i * 0.013 + seed);
    return { width: w, height: h, rgb }; // no key: nothing of it is kept
  };
  const r = Math.min(resolution, S.maxResolution);
  const h = Math.round((r * 3) / 4);
  await S.stylizer.stylize(make(h, r, 0), make(r, r, 1), { iterations: 1, alpha: 1, resolution: r });
}

self.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'init') {
    S.ready = init(msg).catch((err) => {
      post({ type: 'init-error', message: String(err && err.message || err) });
      throw err;
    });
    S.ready.catch(() => {});
  } else if (msg.type === 'run') {
    S.queue.push(makeJob(msg));
    pump();
  } else if (msg.type === 'attention-row') {
    attentionRowMessage(msg); // between a running job's stages: it never waits for the queue
  } else if (msg.type === 'cancel') {
    const q = S.queue.findIndex((j) => j.id === msg.id);
    if (q >= 0) { S.queue.splice(q, 1); post({ type: 'cancelled', id: msg.id }); }
    if (S.current && S.current.id === msg.id) S.current.controller.abort();
  }
};
