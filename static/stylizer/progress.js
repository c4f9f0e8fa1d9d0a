// Progress of loading and of one stylization: the stage plan, the overall fraction, the status text.
// Pure functions, no DOM.

/** Relative cost of each step of a run, used to turn "step k of n" into a smooth fraction. */
export const STEP_WEIGHTS = { 'encode-style': 1, 'encode-content-style': 1, encode: 1, transform: 1, decode: 1 };

/**
 * The ordered steps of one stylization.
 * styleCached / contentStyleCached: whether those encodings are already in the worker's cache.
 */
export function planRun({ iterations, alpha, styleCached = false, contentStyleCached = false }) {
  const steps = [];
  if (!styleCached) steps.push({ stage: 'encode-style' });
  if (alpha < 1 && !contentStyleCached) steps.push({ stage: 'encode-content-style' });
  for (let k = 1; k <= iterations; k++) {
    for (const stage of ['encode', 'transform', 'decode']) steps.push({ stage, iteration: k, iterations });
  }
  return steps;
}

/** Fraction of the run done once `doneSteps` of `steps` are complete, in [0, 1]. */
export function runFraction(steps, doneSteps) {
  const w = (s) => STEP_WEIGHTS[s.stage] ?? 1;
  const total = steps.reduce((a, s) => a + w(s), 0);
  const done = steps.slice(0, Math.max(0, doneSteps)).reduce((a, s) => a + w(s), 0);
  return total ? Math.min(1, done / total) : 1;
}

/** Loading: model bytes downloaded out of total, then the backend self-test, then the warm-up. */
export const LOAD_WEIGHTS = { download: 0.6, selftest: 0.15, compile: 0.1, warmup: 0.15 };

export function loadFraction(stage, done = 0, total = 1) {
  const order = ['download', 'selftest', 'compile', 'warmup'];
  const i = order.indexOf(stage);
  if (i < 0) return stage === 'ready' ? 1 : 0;
  const before = order.slice(0, i).reduce((a, s) => a + LOAD_WEIGHTS[s], 0);
  const part = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  return before + LOAD_WEIGHTS[stage] * part;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The status line for a progress event from the worker. */
export function describe(ev) {
  switch (ev.stage) {
    case 'manifest': return 'Checking the model…';
    case 'download':
      return ev.fromCache
        ? 'Loading the model from this browser\'s cache…'
        : `Downloading the model: ${formatBytes(ev.done)} of ${formatBytes(ev.total)}`;
    case 'selftest': return `Testing which engine is fastest here: ${ev.backend ?? ''}`.trim();
    case 'compile': return `Preparing the model on ${ev.backend}…`;
    case 'warmup': return 'Warming up…';
    case 'encode-style': return 'Encoding the style image';
    case 'encode-content-style': return 'Encoding the photo as a style (for style strength below 1)';
    case 'encode': return `Iteration ${ev.iteration} of ${ev.iterations}: encoding`;
    case 'transform': return `Iteration ${ev.iteration} of ${ev.iterations}: style attention`;
    case 'decode': return `Iteration ${ev.iteration} of ${ev.iterations}: decoding`;
    default: return ev.stage;
  }
}
