// The SANet stylization loop over the three exported TF.js graphs (encoder, transform, decoder): the one copy
// that the page's worker, the Node parity runner (model/tfjs_parity.mjs) and the Node bench
// (bench/tfjs_node.mjs) all run. Any TF.js namespace works (the browser's UMD global, @tensorflow/tfjs in Node).
//
//   const stylizer = createStylizer(await loadGraphs(manifest, artifacts, tf), tf);
//   const out = await stylizer.stylize(content, style, { iterations, resolution, alpha }, { onStage, signal });
//   stylizer.dispose();
//
// Images are {width, height, rgb} (rgb: interleaved RGB floats in [0, 1], row-major) with an optional `key`.
// Keyed images' encodings are kept between runs: a style per size, and the content's first-iteration features
// with its transforms T(c, s), so a run that changes only the strength or the mix costs one blend and one decode.
// With options.attention the last iteration's T(c, s) also hands back its query and key maps (attention.js),
// for the attention explorer: no extra graph run, and none at all when they are kept with the first iteration.
// Steps mirror model/pipeline.py: resize with the pipeline's filter, reflection-pad to multiples of 16, style
// (and, for alpha < 1, the content as a style) encoded once, per iteration encode -> transform -> blend ->
// decode -> clip, crop.

import { GRAPH_NAMES } from './manifest.js';
import { planSizes, padAmounts } from './sizes.js';
import { resizeBilinearAA } from './resize.js';
import { planRun } from './progress.js';
import { transformOutputs, splitOutputs, describeAttention, disposeMaps } from './attention.js';

const STYLE_CACHE_SIZE = 6; // a run holds up to 3 (style, second style, content as a style); a preview 3 more
const FIRST_CACHE_SIZE = 2; // first iterations kept: the full size and the preview's

/** TF.js graph models from verified artifacts (model-store.js loadModel), keyed by graph name. */
export async function loadGraphs(manifest, artifacts, tf) {
  const models = {};
  try {
    for (const g of GRAPH_NAMES) models[g] = await tf.loadGraphModel(tf.io.fromMemory(artifacts[g]));
  } catch (e) {
    for (const m of Object.values(models)) m.dispose();
    throw e;
  }
  return { manifest, models };
}

/** A run stopped through its AbortSignal: what stylize() throws then. */
export class StylizeAborted extends Error {
  constructor() { super('cancelled'); this.name = 'AbortError'; }
}

/**
 * graphs: {manifest, models} (loadGraphs). hooks, for GPU backends: settle(t) waits until t is computed
 * (default: nothing, right for WASM and CPU), read(t) returns t's values (default t.data()).
 * Returns {stylize, plan, clearCache, stats, dispose}.
 */
export function createStylizer(graphs, tf, { settle = async () => {}, read = (t) => t.data() } = {}) {
  const { manifest, models } = graphs;
  const G = manifest.graphs;
  const styleCache = new Map(); // `${key}|HxW` -> [s4, s5], least recently used first
  const firsts = new Map();      // keyed contents' first iterations, `${key}|HxW` -> {c4, c5, t: Map(styleKey -> T), maps: Map(styleKey -> attention maps)}
  const executions = { encoder: 0, transform: 0, decoder: 0 };

  const encode = (x) => {
    executions.encoder++;
    return models.encoder.execute({ [G.encoder.inputs[0]]: x }, G.encoder.outputs);
  };
  const transform = (c4, c5, [s4, s5], outputs = G.transform.outputs[0]) => {
    executions.transform++;
    const [a, b, c, d] = G.transform.inputs;
    return models.transform.execute({ [a]: c4, [b]: s4, [c]: c5, [d]: s5 }, outputs);
  };
  /** T(c, s) and its attention maps ({t, maps}; maps null for a model without them). */
  const transformWithMaps = (c4, c5, s) => splitOutputs(manifest, transform(c4, c5, s, transformOutputs(manifest, true)));
  /** The attention maps alone, for a T(c, s) kept without them: only the query and key convs run. */
  const mapsOnly = (c4, c5, s) => {
    const names = transformOutputs(manifest, true).slice(1);
    return names.length ? splitOutputs(manifest, [null, ...transform(c4, c5, s, names)]).maps : null;
  };
  const cloneMaps = (maps) => maps && Object.fromEntries(Object.entries(maps).map(([l, m]) => [l, { query: tf.clone(m.query), key: tf.clone(m.key) }]));
  const decode = (t) => {
    executions.decoder++;
    return tf.tidy(() => tf.clipByValue(models.decoder.execute({ [G.decoder.inputs[0]]: t }, G.decoder.outputs[0]), 0, 1));
  };

  /** Pixels resized with the Python pipeline's filter, reflection-padded: a (1, H', W', 3) tensor. */
  function imageTensor(img, h, w) {
    const rgb = resizeBilinearAA(img.rgb, img.height, img.width, 3, h, w);
    const [ph, pw] = padAmounts(h, w, manifest.size_multiple);
    return tf.tidy(() => {
      const x = tf.tensor4d(rgb, [1, h, w, 3]);
      return ph || pw ? tf.mirrorPad(x, [[0, 0], [0, ph], [0, pw], [0, 0]], 'reflect') : x;
    });
  }

  function sizesFor(content, style, o) {
    return planSizes({
      content: [content.height, content.width], style: [style.height, style.width],
      style2: o.style2 ? [o.style2.height, o.style2.width] : null, resolution: o.resolution,
      styleMaxResolution: manifest.style_max_resolution, multiple: manifest.size_multiple, minSide: manifest.min_side,
    });
  }

  // The style-like inputs of a run: [{name, image, size, key}], the key naming the cached encoding (null: uncached).
  function styleInputs(content, style, o, sizes) {
    const key = (img, prefix, [h, w]) => (img.key != null ? `${prefix}${img.key}|${h}x${w}` : null);
    const out = [{ name: 'style', stage: 'encode-style', image: style, size: sizes.style, key: key(style, '', sizes.style) }];
    if (mixing(o)) out.push({ name: 'style2', stage: 'encode-style2', image: o.style2, size: sizes.style2, key: key(o.style2, '', sizes.style2) });
    if (o.alpha < 1) {
      out.push({ name: 'content', stage: 'encode-content-style', image: content, size: sizes.contentAsStyle,
        key: key(content, 'content:', sizes.contentAsStyle) });
    }
    return out;
  }

  const mixing = (o) => !!o.style2 && o.mix < 1;
  const firstKey = (content, sizes) => (content.key != null ? `${content.key}|${sizes.output[0]}x${sizes.output[1]}` : null);

  /** The steps stylize() will take for these inputs, given what is cached now (see progress.js planRun). */
  function plan(content, style, options) {
    const o = normalise(options);
    const sizes = sizesFor(content, style, o);
    const inputs = styleInputs(content, style, o, sizes);
    const fk = firstKey(content, sizes);
    const cachedFirst = fk != null ? firsts.get(fk) : null;
    return planRun({
      iterations: o.iterations, alpha: o.alpha, mix: mixing(o), output: sizes.output,
      encodeStyles: inputs.filter((s) => !(s.key != null && styleCache.has(s.key))).map((s) => ({ stage: s.stage, size: s.size })),
      firstEncoded: !!cachedFirst,
      firstTransformed: !!cachedFirst && inputs.every((s) => s.key != null && cachedFirst.t.has(s.key)),
    });
  }

  async function encodedStyle(s, step) {
    const hit = s.key != null && styleCache.get(s.key);
    if (hit) { styleCache.delete(s.key); styleCache.set(s.key, hit); return hit; }
    await step(s.stage);
    const x = imageTensor(s.image, s.size[0], s.size[1]);
    const feats = encode(x);
    x.dispose();
    await settle(feats[0]);
    if (s.key != null) {
      styleCache.set(s.key, feats);
      while (styleCache.size > STYLE_CACHE_SIZE) { // a run adds at most 3, so only older runs' entries go
        const [k, v] = styleCache.entries().next().value;
        styleCache.delete(k);
        v.forEach((t) => t.dispose());
      }
    }
    return feats;
  }

  function dropFirst(key) {
    const f = firsts.get(key);
    if (!f) return;
    firsts.delete(key);
    f.c4.dispose(); f.c5.dispose();
    for (const t of f.t.values()) t.dispose();
    for (const m of f.maps.values()) disposeMaps(m);
  }

  /** The kept first iteration for `key` (most recently used last), or null. */
  function keptFirst(key) {
    const f = key != null ? firsts.get(key) : null;
    if (f) { firsts.delete(key); firsts.set(key, f); }
    return f || null;
  }

  function keepFirst(key, f) {
    firsts.set(key, f);
    while (firsts.size > FIRST_CACHE_SIZE) dropFirst(firsts.keys().next().value);
  }

  /**
   * Stylize `content` with `style`. options: {iterations = 1, resolution, alpha = 1, style2, mix = 1}: the output's
   * long side is `resolution`; alpha blends with the content's own transform, mix with the second style's:
   *   t = alpha * (mix * T(c, s1) + (1 - mix) * T(c, s2)) + (1 - alpha) * T(c, c)
   * hooks: onStage(step) as each step of plan() begins; signal (AbortSignal) stops at the next step;
   * onTensor(name, tensor) gets the first iteration's relu4_1, relu5_1 and t (awaited; for parity checks).
   * options.attention: also return the last iteration's attention maps for the first style, as
   * attention: {desc (attention.js describeAttention), maps ({level: {query, key}}: the caller disposes them,
   * disposeMaps)}, or null for a model without them.
   * Returns {width, height, rgb (Float32Array, cropped), ms, executions: graph runs this call made, attention}.
   * Throws ImageSizeError (sizes.js) for images too thin for the network, StylizeAborted when cancelled.
   */
  async function stylize(content, style, options, { onStage = () => {}, signal = null, onTensor = null } = {}) {
    const o = normalise(options);
    const sizes = sizesFor(content, style, o);
    const steps = plan(content, style, o);
    const before = { ...executions };
    let i = 0;
    const step = async (stage) => {
      await boundary(signal);
      while (i < steps.length - 1 && steps[i].stage !== stage) i++;
      onStage({ ...steps[i], index: i, total: steps.length });
      i++;
    };
    const t0 = now();
    const inputs = styleInputs(content, style, o, sizes);
    const feats = {};
    let maps = null; // the explorer's maps of the last iteration, the caller's once returned
    try {
      for (const s of inputs) feats[s.name] = await encodedStyle(s, step);
      const fk = firstKey(content, sizes);
      for (const key of [...firsts.keys()]) if (!key.startsWith(`${content.key}|`)) dropFirst(key); // another photo
      let x = imageTensor(content, sizes.output[0], sizes.output[1]);
      try {
        for (let k = 1; k <= o.iterations; k++) {
          // The first iteration's features and transforms are kept for a keyed content; later iterations
          // depend on the previous output, hence on every control.
          let c4, c5;
          let cache = k === 1 ? keptFirst(fk) : null;
          if (cache) ({ c4, c5 } = cache);
          else {
            await step('encode');
            [c4, c5] = encode(x);
            await settle(c4);
            if (k === 1 && fk != null) keepFirst(fk, (cache = { c4, c5, t: new Map(), maps: new Map() }));
          }
          await step('transform');
          const T = {};
          for (const s of inputs) {
            const keep = cache && s.key != null;
            const kept = keep ? cache.t.get(s.key) : null;
            const explore = o.attention && k === o.iterations && s.name === 'style';
            let t = kept;
            if (explore) {
              let m = keep ? cache.maps.get(s.key) : null;
              if (!t) ({ t, maps: m } = transformWithMaps(c4, c5, feats[s.name]));
              else if (!m) m = mapsOnly(c4, c5, feats[s.name]);
              if (keep && m && !cache.maps.has(s.key)) cache.maps.set(s.key, m);
              maps = keep ? cloneMaps(m) : m;
            }
            T[s.name] = { t: t || transform(c4, c5, feats[s.name]), owned: !keep };
            if (keep && !kept) cache.t.set(s.key, T[s.name].t);
          }
          let t = T.style.t;
          let owned = T.style.owned;
          if (inputs.length > 1) {
            t = tf.tidy(() => {
              let ts = T.style.t;
              if (T.style2) ts = tf.add(tf.mul(ts, o.mix), tf.mul(T.style2.t, 1 - o.mix));
              if (T.content) ts = tf.add(tf.mul(ts, o.alpha), tf.mul(T.content.t, 1 - o.alpha));
              return ts;
            });
            owned = true;
            for (const p of Object.values(T)) if (p.owned) p.t.dispose();
          }
          await settle(t);
          if (onTensor && k === 1) {
            await onTensor('relu4_1', c4);
            await onTensor('relu5_1', c5);
            await onTensor('t', t);
          }
          if (!cache) { c4.dispose(); c5.dispose(); }
          await step('decode');
          const next = decode(t);
          if (owned) t.dispose();
          x.dispose();
          x = next;
          await settle(x);
        }
        await boundary(signal);
        const [h, w] = sizes.output;
        const out = tf.slice(x, [0, 0, 0, 0], [1, h, w, 3]);
        let rgb;
        try { rgb = await read(out); } finally { out.dispose(); }
        const made = Object.fromEntries(Object.keys(executions).map((g) => [g, executions[g] - before[g]]));
        const attention = maps && { desc: describeAttention(manifest, maps, sizes, manifest.size_multiple), maps };
        maps = null;
        return { width: w, height: h, rgb: rgb instanceof Float32Array ? rgb : Float32Array.from(rgb), ms: now() - t0,
          executions: made, attention };
      } finally {
        x.dispose();
      }
    } finally {
      const cached = new Set(styleCache.values());
      for (const f of Object.values(feats)) if (!cached.has(f)) f.forEach((t) => t.dispose());
      disposeMaps(maps); // a run that failed or was cancelled after making them
    }
  }

  function clearCache() {
    for (const v of styleCache.values()) v.forEach((t) => t.dispose());
    styleCache.clear();
    for (const key of [...firsts.keys()]) dropFirst(key);
  }

  return {
    stylize, plan, clearCache,
    /** Graph executions so far: {encoder, transform, decoder}. */
    stats: () => ({ ...executions }),
    dispose() {
      clearCache();
      for (const m of Object.values(models)) m.dispose();
    },
  };
}

function normalise({ iterations = 1, resolution, alpha = 1, style2 = null, mix = 1, attention = false } = {}) {
  if (!(Number.isInteger(iterations) && iterations >= 1)) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${alpha}`);
  if (!(mix >= 0 && mix <= 1)) throw new RangeError(`mix must be in [0, 1], got ${mix}`);
  return { iterations, resolution, alpha, style2: style2 || null, mix: style2 ? mix : 1, attention: !!attention };
}

/** Let queued messages (a Cancel) in, then stop if the signal was aborted. */
async function boundary(signal) {
  await new Promise((r) => setTimeout(r, 0));
  if (signal?.aborted) throw new StylizeAborted();
}

const now = () => performance.now();
