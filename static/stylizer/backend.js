// Choosing a TF.js backend by measurement, and deciding what to do when a run fails. Pure, no DOM.

import { smallerResolution } from './sizes.js';

/**
 * Candidates in the order they are measured: WASM first (it works everywhere and gives the bar the GPU
 * backends must beat), then WebGL, then WebGPU where the browser has an adapter.
 */
export function candidateBackends({ hasWebGPU = false, hasWebGL = true, hasWasm = true } = {}) {
  return [hasWasm && 'wasm', hasWebGL && 'webgl', hasWebGPU && 'webgpu'].filter(Boolean);
}

/**
 * results: [{backend, ok, ms, error?, maxError?}] from the self-test.
 * Returns {chosen, ranking}: ranking lists the correct backends fastest first; chosen is ranking[0] or null.
 */
export function chooseBackend(results) {
  const ranking = results
    .filter((r) => r.ok && Number.isFinite(r.ms))
    .sort((a, b) => a.ms - b.ms)
    .map((r) => r.backend);
  return { chosen: ranking[0] ?? null, ranking };
}

/** Did a self-test output match the reference? Relative max-abs tolerance, NaN fails. */
export function closeEnough(got, want, tol = 1e-2) {
  if (got.length !== want.length) return { ok: false, maxError: Infinity };
  let maxErr = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= Number.MAX_VALUE)) return { ok: false, maxError: Infinity }; // NaN / Infinity
    maxErr = Math.max(maxErr, e);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return { ok: maxErr <= tol * Math.max(1, scale), maxError: maxErr };
}

/** Classify an error thrown by TF.js into 'oom', 'context-lost' or 'other'. */
export function classifyError(err) {
  const msg = String(err && (err.message || err)).toLowerCase();
  if (/context (was )?lost|context_lost|contextlost/.test(msg)) return 'context-lost';
  if (/out of memory|oom|memory access out of bounds|failed to allocate|allocation failed|cannot enlarge memory|array buffer allocation|invalid array length|requested texture size|exceeds.*max|rangeerror/.test(msg)) return 'oom';
  return 'other';
}

/**
 * What to do after a failed run: {action: 'retry-smaller', resolution} | {action: 'switch-backend', backend}
 * | {action: 'give-up'}. OOM first shrinks the image, then tries the next backend; a lost context moves on.
 */
export function fallbackAction({ kind, resolution, minResolution = 256, backend, ranking, tried = [] }) {
  const smaller = kind === 'oom' ? smallerResolution(resolution, { min: minResolution }) : null;
  if (smaller) return { action: 'retry-smaller', resolution: smaller };
  if (kind === 'oom' || kind === 'context-lost') {
    const next = ranking.find((b) => b !== backend && !tried.includes(b));
    if (next) return { action: 'switch-backend', backend: next };
  }
  return { action: 'give-up' };
}

/** The most WASM threads asked for: XNNPACK gains little beyond this, and the page keeps a core for itself. */
export const MAX_WASM_THREADS = 8;

/**
 * Threads for TF.js's WASM backend: one without cross-origin isolation (no SharedArrayBuffer: the plain SIMD
 * build loads), else `requested` (the root's data-threads, for benchmarks) or every core up to MAX_WASM_THREADS.
 * TF.js's own default, hardwareConcurrency / 2 capped at 4, gives one thread on a 2-core machine.
 */
export function wasmThreads({ cores = 1, isolated = false, requested = null } = {}) {
  if (!isolated) return 1;
  const n = Number.isInteger(requested) && requested > 0 ? requested : Math.min(cores || 1, MAX_WASM_THREADS);
  return Math.max(1, n);
}

/**
 * Whether a preview at `preview` px is worth running before `resolution` (steps from progress.js planRun, with
 * costs): only when the full run encodes something (a run that only blends kept features and decodes is
 * already quick) and costs over twice as much as the preview; never when `preview` is 0 or not smaller.
 */
export function previewWorthIt({ preview, resolution, previewSteps, fullSteps }) {
  if (!preview || !previewSteps.length || resolution < preview * 1.25) return false;
  if (!fullSteps.some((st) => st.stage.startsWith('encode'))) return false;
  const cost = (steps) => steps.reduce((a, st) => a + (st.cost ?? 1), 0);
  return cost(fullSteps) > 2 * cost(previewSteps);
}
