// The attention explorer's maths: which attention maps the model exports, one row of weights on demand, where
// a content position falls, what a row says in words, and the heat map's pixels. No DOM; the worker (rows),
// the widget (explorer.js: drawing and text) and the Node tests all use it.
//
// A row is softmax_j(f(mvn(Fc_i))^T g(mvn(Fs_j))): the weights content position i gives every style position j
// in one SANet module (relu4_1 or relu5_1), i.e. one row of the attention map S of model/sanet_torch.py
// (SANet.attention). The transform graph returns the query map f(mvn(Fc)) and the key map g(mvn(Fs)) (the
// manifest's "attention"), which it computes anyway; a row costs one 1 x C by C x Ns product and a softmax.

/** The levels the manifest's model exposes, {relu4_1: {query, key, stride}, ...}, or null (an older export). */
export function attentionLevels(manifest) {
  const a = manifest && manifest.attention;
  if (!a || a.graph !== 'transform' || !a.levels) return null;
  const outs = manifest.graphs.transform.outputs;
  const ok = Object.values(a.levels).every((l) => outs.includes(l.query) && outs.includes(l.key) && l.stride > 0);
  return ok && Object.keys(a.levels).length ? a.levels : null;
}

/** The transform's output names for a run: t alone, or t then each level's query and key (see splitOutputs). */
export function transformOutputs(manifest, withMaps) {
  const names = [manifest.graphs.transform.outputs[0]];
  const levels = withMaps ? attentionLevels(manifest) : null;
  if (levels) for (const l of Object.values(levels)) names.push(l.query, l.key);
  return names;
}

/** The transform's result for `transformOutputs(manifest, true)`: {t, maps: {level: {query, key}}} (maps null
 * when the model has none). */
export function splitOutputs(manifest, result) {
  const list = Array.isArray(result) ? result : [result];
  const levels = attentionLevels(manifest);
  if (!levels || list.length === 1) return { t: list[0], maps: null };
  const maps = {};
  let i = 1;
  for (const level of Object.keys(levels)) maps[level] = { query: list[i++], key: list[i++] };
  return { t: list[0], maps };
}

/** Dispose every tensor of a maps object ({level: {query, key}}). */
export function disposeMaps(maps) {
  if (maps) for (const m of Object.values(maps)) { m.query.dispose(); m.key.dispose(); }
}

/**
 * What the widget needs to place a run's attention: per level the content grid and the style grid (cells of
 * `stride` px of the padded images), the output size (the visible photo), the style's fitted and padded sizes.
 * maps: {level: {query, key}} (NHWC tensors); sizes: sizes.js planSizes' result; multiple: the manifest's.
 */
export function describeAttention(manifest, maps, sizes, multiple) {
  const levels = attentionLevels(manifest);
  const pad = ([h, w]) => [Math.ceil(h / multiple) * multiple, Math.ceil(w / multiple) * multiple];
  const out = { output: sizes.output, padded: pad(sizes.output), style: sizes.style, stylePadded: pad(sizes.style), levels: {} };
  for (const [level, m] of Object.entries(maps)) {
    out.levels[level] = { stride: levels[level].stride, content: m.query.shape.slice(1, 3), styleGrid: m.key.shape.slice(1, 3) };
  }
  return out;
}

/** One row of a level's attention as a tensor of Ns weights (caller disposes): softmax over the style positions
 * of query `index`'s dot products with every key. */
export function attentionRow(tf, maps, level, index) {
  const m = maps[level];
  if (!m) throw new RangeError(`no attention level ${level}`);
  const [, gh, gw, c] = m.query.shape;
  if (!(Number.isInteger(index) && index >= 0 && index < gh * gw)) throw new RangeError(`position ${index} is outside the ${gh}x${gw} grid`);
  return tf.tidy(() => {
    const q = tf.slice(tf.reshape(m.query, [gh * gw, c]), [index, 0], [1, c]);
    const k = tf.reshape(m.key, [-1, c]);
    return tf.reshape(tf.softmax(tf.matMul(q, k, false, true)), [-1]);
  });
}

/** The cell (row, col) and row-major index on a level's content grid under the output pixel (x, y). */
export function cellAt(desc, level, x, y) {
  const { stride, content: [gh, gw] } = desc.levels[level];
  const [h, w] = desc.output;
  const px = Math.min(w - 1, Math.max(0, Math.floor(x)));
  const py = Math.min(h - 1, Math.max(0, Math.floor(y)));
  const row = Math.min(gh - 1, Math.floor(py / stride));
  const col = Math.min(gw - 1, Math.floor(px / stride));
  return { row, col, index: row * gw + col };
}

/** The cell reached from (row, col) by an arrow key (one cell, or `step`), kept on the visible photo. */
export function moveCell(desc, level, { row, col }, key, step = 1) {
  const { stride, content: [gh, gw] } = desc.levels[level];
  const [h, w] = desc.output;
  const rows = Math.min(gh, Math.ceil(h / stride)), cols = Math.min(gw, Math.ceil(w / stride));
  const d = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[key];
  if (!d) return null;
  const r = Math.min(rows - 1, Math.max(0, row + d[0] * step));
  const c = Math.min(cols - 1, Math.max(0, col + d[1] * step));
  return { row: r, col: c, index: r * gw + c };
}

/** The same content point on another level's grid (the toggle keeps the position). */
export function sameCell(desc, from, to, { row, col }) {
  const s = desc.levels[from].stride;
  return cellAt(desc, to, (col + 0.5) * s, (row + 0.5) * s);
}

const REGIONS = [['upper left', 'top', 'upper right'], ['left', 'centre', 'right'], ['lower left', 'bottom', 'lower right']];

// Cells outlined on the heat map: the top ones holding at least this share (a near one-hot row outlines one).
export const OUTLINE_MIN = 0.005;

/**
 * What a row says: {sum, max, top: [{index, row, col, weight}] (the `k` largest, largest first), topShare,
 * marked (the top cells holding at least OUTLINE_MIN: outlined), region: {name, share} (the ninth of the style
 * image holding most weight), padShare (weight on the reflected strip beyond the style image's bottom/right
 * edge, which the network sees too), text}.
 * grid: the style grid [rows, cols]; image: the style's fitted size [h, w]; stride: px per cell.
 */
export function summarizeRow(weights, grid, image, stride, k = 5) {
  const [rows, cols] = grid;
  const [h, w] = image;
  if (weights.length !== rows * cols) throw new RangeError(`a row of ${weights.length} weights for a ${rows}x${cols} grid`);
  let sum = 0, padShare = 0;
  const regions = new Float64Array(9);
  const top = [];
  for (let i = 0; i < weights.length; i++) {
    const v = weights[i];
    sum += v;
    const r = Math.floor(i / cols), c = i % cols;
    const y = (r + 0.5) * stride, x = (c + 0.5) * stride;
    if (y >= h || x >= w) padShare += v;
    else regions[Math.min(2, Math.floor((3 * y) / h)) * 3 + Math.min(2, Math.floor((3 * x) / w))] += v;
    if (top.length < k || v > top[top.length - 1].weight) {
      top.push({ index: i, row: r, col: c, weight: v });
      top.sort((a, b) => b.weight - a.weight);
      if (top.length > k) top.pop();
    }
  }
  let best = 0;
  for (let i = 1; i < 9; i++) if (regions[i] > regions[best]) best = i;
  const region = { name: REGIONS[Math.floor(best / 3)][best % 3], share: regions[best] };
  const topShare = top.reduce((a, t) => a + t.weight, 0);
  const pct = (v) => `${v >= 0.095 ? Math.round(v * 100) : (v * 100).toFixed(1)}%`;
  // A trained model often takes a row's weight from the strip alone: then the strip leads, not an empty ninth.
  const onStrip = padShare > region.share;
  let text = (onStrip ? `Most weight on the reflected strip past the style image's edge (${pct(padShare)}), `
    : `Most weight near the ${region.name} of the style image (${pct(region.share)} in that ninth of it), `) +
    `${pct(topShare)} in the top ${top.length} cells; the strongest cell holds ${pct(top[0].weight)}.`;
  if (!onStrip && padShare >= 0.005) text += ` ${pct(padShare)} falls on the reflected strip past the style image's edge.`;
  return { sum, max: top[0].weight, top, topShare, marked: top.filter((t) => t.weight >= OUTLINE_MIN), region, padShare, text };
}

// A perceptually ordered dark-to-bright palette (after matplotlib's "inferno"), sampled at 9 stops.
const PALETTE = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39],
  [245, 251, 161], [252, 255, 164]];

/** The palette's colour at v in [0, 1] as [r, g, b]. */
export function heatColor(v) {
  const x = Math.min(1, Math.max(0, v)) * (PALETTE.length - 1);
  const i = Math.min(PALETTE.length - 2, Math.floor(x));
  const f = x - i;
  return PALETTE[i].map((a, j) => Math.round(a + (PALETTE[i + 1][j] - a) * f));
}

/** The heat map as RGBA bytes, one pixel per cell (rows x cols): colour and opacity grow with weight / max, so
 * the style shows through where the row puts little weight. */
export function heatmapRGBA(weights, rows, cols, max = null) {
  let m = max;
  if (m == null) { m = 0; for (const v of weights) if (v > m) m = v; }
  const out = new Uint8ClampedArray(rows * cols * 4);
  for (let i = 0; i < rows * cols; i++) {
    const v = m > 0 ? weights[i] / m : 0;
    const [r, g, b] = heatColor(v);
    out.set([r, g, b, Math.round(255 * Math.min(1, 0.08 + 0.92 * Math.sqrt(v)))], 4 * i);
  }
  return out;
}

/** RGBA bytes (h x w) reflection-padded on the bottom/right to (H x W), as the network pads its inputs
 * (no edge repeat: row h reads row h - 2). */
export function reflectPadRGBA(data, h, w, H, W) {
  const out = new Uint8ClampedArray(H * W * 4);
  const reflect = (i, n) => (i < n ? i : 2 * (n - 1) - i);
  for (let y = 0; y < H; y++) {
    const sy = reflect(y, h);
    for (let x = 0; x < W; x++) {
      const s = 4 * (sy * w + reflect(x, w));
      out.set(data.subarray(s, s + 4), 4 * (y * W + x));
    }
  }
  return out;
}

const VEIL = 0.45; // the style image is darkened by this much under the heat, so the heat reads over any painting

/**
 * The explorer's picture of one row, as RGBA bytes of the padded style (SH x SW): the style (`base`, already
 * reflection-padded: reflectPadRGBA) under a veil, one heat block per cell, the marked cells outlined, a ring
 * around the strongest, and a dashed line where the style image ends and the padding strip begins.
 * layout: {grid: [rows, cols], stride, style: [sh, sw] (the fitted style), padded: [SH, SW]}; summary:
 * summarizeRow's result for `weights`. The page draws it (explorer.js) and so does the article's figure
 * (scripts/attention_example.py).
 */
export function attentionPanel(base, weights, layout, summary) {
  const { grid: [rows, cols], stride, style: [sh, sw], padded: [SH, SW] } = layout;
  const heat = heatmapRGBA(weights, rows, cols, summary.max);
  const out = new Uint8ClampedArray(SH * SW * 4);
  for (let y = 0; y < SH; y++) {
    for (let x = 0; x < SW; x++) {
      const i = 4 * (y * SW + x);
      const r = Math.min(rows - 1, Math.floor(y / stride)), c = Math.min(cols - 1, Math.floor(x / stride));
      const hc = 4 * (r * cols + c);
      const a = heat[hc + 3] / 255;
      for (let k = 0; k < 3; k++) out[i + k] = base[i + k] * (1 - VEIL) * (1 - a) + heat[hc + k] * a;
      out[i + 3] = 255;
    }
  }
  const put = (x, y, v) => {
    if (x < 0 || y < 0 || x >= SW || y >= SH) return;
    const i = 4 * (y * SW + x);
    out[i] = out[i + 1] = out[i + 2] = v;
  };
  for (let x = 0; x < sw; x++) if (sh < SH && x % 8 < 4) put(x, sh, 255); // the style image's edges, dashed
  for (let y = 0; y < sh; y++) if (sw < SW && y % 8 < 4) put(sw, y, 255);
  const frame = (x0, y0, x1, y1, v) => {
    for (let x = x0; x <= x1; x++) { put(x, y0, v); put(x, y1, v); }
    for (let y = y0; y <= y1; y++) { put(x0, y, v); put(x1, y, v); }
  };
  for (const t of summary.marked) {
    const x0 = t.col * stride, y0 = t.row * stride, x1 = x0 + stride - 1, y1 = y0 + stride - 1;
    frame(x0 - 1, y0 - 1, x1 + 1, y1 + 1, 0);
    frame(x0, y0, x1, y1, 255);
  }
  const best = summary.top[0];
  const cx = (best.col + 0.5) * stride, cy = (best.row + 0.5) * stride, R = Math.max(12, 2.5 * stride);
  for (let y = Math.floor(cy - R - 3); y <= cy + R + 3; y++) {
    for (let x = Math.floor(cx - R - 3); x <= cx + R + 3; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy) - R;
      if (Math.abs(d) <= 1) put(x, y, 255);
      else if (Math.abs(d) <= 2) put(x, y, 0);
    }
  }
  return out;
}
