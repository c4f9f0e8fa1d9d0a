// Progress of loading and of one stylization: the stage plan, the overall fraction, the status text.
// Pure functions, no DOM.

/** Relative cost of each step per 512 x 512 pixels it works on, used to turn "step k of n" into a fraction. */
export const STEP_WEIGHTS = {
  'encode-style': 1, 'encode-style2': 1, 'encode-content-style': 1, encode: 1, transform: 0.6, decode: 1, blend: 0.05,
};

const cost = (stage, [h, w]) => (STEP_WEIGHTS[stage] ?? 1) * (h * w) / (512 * 512);

/**
 * The ordered steps of one stylization, each {stage, iteration?, iterations?, cost}.
 * output: the output's (height, width); encodeStyles: the style-like encodings still to make, [{stage, size}]
 * (default: the style, the second style when mixing, the content as a style when alpha < 1, each at `output`,
 * less those flagged cached); firstEncoded / firstTransformed: the first iteration's content features / its
 * transforms are already kept (sanet.js), so that iteration skips its encode / only blends.
 */
export function planRun({ iterations, alpha = 1, mix = false, output = [512, 512], encodeStyles = null,
  styleCached = false, contentStyleCached = false, firstEncoded = false, firstTransformed = false }) {
  const steps = [];
  const styles = encodeStyles ?? [
    !styleCached && { stage: 'encode-style', size: output },
    mix && { stage: 'encode-style2', size: output },
    alpha < 1 && !contentStyleCached && { stage: 'encode-content-style', size: output },
  ].filter(Boolean);
  for (const s of styles) steps.push({ stage: s.stage, cost: cost(s.stage, s.size) });
  for (let k = 1; k <= iterations; k++) {
    if (!(k === 1 && firstEncoded)) steps.push({ stage: 'encode', iteration: k, iterations, cost: cost('encode', output) });
    const blendOnly = k === 1 && firstEncoded && firstTransformed;
    steps.push({ stage: 'transform', iteration: k, iterations, cost: cost(blendOnly ? 'blend' : 'transform', output), ...(blendOnly && { cached: true }) });
    steps.push({ stage: 'decode', iteration: k, iterations, cost: cost('decode', output) });
  }
  return steps;
}

/** Fraction of the run done once `doneSteps` of `steps` are complete, in [0, 1]. */
export function runFraction(steps, doneSteps) {
  const w = (s) => s.cost ?? STEP_WEIGHTS[s.stage] ?? 1;
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

/** The status line for a progress event from the worker (a preview's steps say so). */
export function describe(ev) {
  const text = describeStage(ev);
  return ev.phase === 'preview' ? `Quick preview: ${text}` : text;
}

function describeStage(ev) {
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
    case 'encode-style2': return 'Encoding the second style image';
    case 'encode-content-style': return 'Encoding the photo as a style (for style strength below 1)';
    case 'encode': return `Iteration ${ev.iteration} of ${ev.iterations}: encoding`;
    case 'transform': return ev.cached
      ? `Iteration ${ev.iteration} of ${ev.iterations}: blending the kept style features`
      : `Iteration ${ev.iteration} of ${ev.iterations}: style attention`;
    case 'decode': return `Iteration ${ev.iteration} of ${ev.iterations}: decoding`;
    default: return ev.stage;
  }
}
