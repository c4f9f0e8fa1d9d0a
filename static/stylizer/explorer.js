// The attention explorer's UI: after a stylization, a point of the result (or of the photo under the compare
// slider) chosen by hover, tap or the arrow keys shows over the style image the attention weights that point's
// content position gives every style position, in one SANet module (relu4_1, or relu5_1 with the toggle).
// Rows come from the worker (attention.js attentionRow on the run's query and key maps), one at a time and only
// the latest asked for; this module draws them (heat map, the strongest cells outlined, legend, marker) and says
// in words what they show.

import { cellAt, moveCell, sameCell, summarizeRow, attentionPanel, heatColor, reflectPadRGBA, OUTLINE_MIN } from './attention.js';
import { h } from './dom.js';

const TOP = 5; // cells outlined and counted in the text
const STEP = 4; // cells per arrow key with Shift

const pct = (v) => `${v >= 0.095 ? Math.round(v * 100) : (v * 100).toFixed(1)}%`;

export class AttentionExplorer {
  /**
   * target: the element holding the result and photo canvases (it gets the marker, focus and pointer handling);
   * picture: the result canvas (its box gives the coordinates); requestRow(level, index) -> Promise<Float32Array>;
   * id(suffix): unique ids for labels.
   */
  constructor({ target, picture, requestRow, id }) {
    this.target = target;
    this.picture = picture;
    this.requestRow = requestRow;
    this.desc = null;
    this.cell = null; // {row, col, index} on the current level's grid
    this.row = null; // the weights on show (Float32Array)
    this.level = 'relu4_1';
    this.generation = 0;
    this.#build(id);
    this.#bind();
  }

  #build(id) {
    const el = (this.el = {});
    el.marker = h('div', { class: 'stylizer__marker', 'data-role': 'attention-marker', hidden: true, 'aria-hidden': 'true' });
    this.target.append(el.marker);
    el.coarse = h('input', { type: 'checkbox', id: id('attention-coarse'), name: 'attention-relu5_1' });
    el.map = h('canvas', { class: 'stylizer__attention-map', 'data-role': 'attention-map', width: 1, height: 1, role: 'img',
      'aria-label': 'Attention weights over the style image', 'aria-describedby': id('attention-summary') });
    el.bar = h('canvas', { class: 'stylizer__legend-bar', width: 128, height: 1, 'aria-hidden': 'true' });
    el.max = h('span', { 'data-role': 'attention-max' });
    el.legendText = h('p', { class: 'stylizer__legend-text' });
    el.summary = h('p', { class: 'stylizer__attention-summary', id: id('attention-summary'), 'data-role': 'attention-summary',
      'aria-live': 'polite', text: 'Point at the picture to see where that spot looks.' });
    el.panel = h('section', { class: 'stylizer__attention', 'data-role': 'attention', hidden: true, 'aria-labelledby': id('attention-title') },
      h('h3', { id: id('attention-title'), class: 'stylizer__attention-title', text: 'Where the attention looks' }),
      h('p', { class: 'stylizer__attention-help', text: 'Hover over the result (or tap it), or focus it and use the arrow ' +
        'keys (Shift: 4 cells). The style image then shows the weights that spot of your photo gives each part of the ' +
        'style image in SANet\'s attention.' }),
      h('div', { class: 'stylizer__attention-level' }, el.coarse,
        h('label', { for: id('attention-coarse'), text: 'Show the deeper module (relu5_1, 16 px cells) instead of relu4_1 (8 px cells)' })),
      el.map,
      h('div', { class: 'stylizer__legend', 'data-role': 'attention-legend' },
        h('span', { text: '0' }), el.bar, el.max),
      el.legendText, el.summary);
    const bar = el.bar.getContext('2d');
    for (let x = 0; x < el.bar.width; x++) {
      bar.fillStyle = `rgb(${heatColor(x / (el.bar.width - 1)).join(',')})`;
      bar.fillRect(x, 0, 1, 1);
    }
    this.element = el.panel;
    this.target.setAttribute('aria-describedby', id('attention-summary'));
  }

  #bind() {
    const t = this.target;
    const at = (e) => {
      if (!this.desc) return null;
      const r = this.picture.getBoundingClientRect();
      const [oh, ow] = this.desc.output;
      return cellAt(this.desc, this.level, ((e.clientX - r.left) / r.width) * ow, ((e.clientY - r.top) / r.height) * oh);
    };
    t.addEventListener('pointermove', (e) => { if (e.pointerType !== 'touch') { const c = at(e); if (c) this.choose(c); } });
    t.addEventListener('pointerdown', (e) => { const c = at(e); if (c) this.choose(c); });
    t.addEventListener('keydown', (e) => {
      if (!this.desc) return;
      const from = this.cell || this.#centre();
      const c = moveCell(this.desc, this.level, from, e.key, e.shiftKey ? STEP : 1);
      if (!c) return;
      e.preventDefault();
      this.choose(c);
    });
    t.addEventListener('focus', () => { if (this.desc && !this.cell) this.choose(this.#centre()); });
    this.el.coarse.addEventListener('change', () => this.setLevel(this.el.coarse.checked ? 'relu5_1' : 'relu4_1'));
  }

  #centre() {
    const [oh, ow] = this.desc.output;
    return cellAt(this.desc, this.level, ow / 2, oh / 2);
  }

  /** A new result: its attention description (attention.js describeAttention) and the style bitmap it used. */
  show(desc, styleBitmap) {
    this.generation++;
    this.desc = desc;
    this.cell = null;
    this.row = null;
    const [SH, SW] = desc.stylePadded;
    const [sh, sw] = desc.style;
    const c = document.createElement('canvas');
    c.width = sw;
    c.height = sh;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(styleBitmap, 0, 0, sw, sh);
    this.base = new ImageData(reflectPadRGBA(ctx.getImageData(0, 0, sw, sh).data, sh, sw, SH, SW), SW, SH);
    this.el.map.width = SW;
    this.el.map.height = SH;
    this.el.map.getContext('2d').putImageData(this.base, 0, 0);
    this.el.coarse.disabled = !desc.levels.relu5_1;
    if (!desc.levels[this.level]) this.level = Object.keys(desc.levels)[0];
    this.el.coarse.checked = this.level === 'relu5_1';
    this.target.tabIndex = 0;
    this.target.dataset.explorer = 'on';
    this.target.setAttribute('role', 'group');
    this.target.setAttribute('aria-label', 'Stylized result: move over it, tap it, or use the arrow keys to explore the attention');
    this.element.hidden = false;
    this.element.dataset.level = this.level;
    this.el.summary.textContent = 'Point at the picture to see where that spot looks.';
    this.el.legendText.textContent = '';
    this.el.max.textContent = '';
    this.el.marker.hidden = true;
    delete this.element.dataset.cell;
  }

  /** No result to explore (a run started, or the model has no attention maps). */
  hide() {
    this.generation++;
    this.desc = null;
    this.cell = null;
    this.element.hidden = true;
    this.el.marker.hidden = true;
    this.target.removeAttribute('tabindex');
    delete this.target.dataset.explorer;
    this.target.removeAttribute('aria-label');
    this.target.removeAttribute('role');
  }

  setLevel(level) {
    if (!this.desc || !this.desc.levels[level] || level === this.level) return;
    const cell = this.cell && sameCell(this.desc, this.level, level, this.cell);
    this.level = level;
    this.element.dataset.level = level;
    this.el.coarse.checked = level === 'relu5_1';
    this.cell = null;
    if (cell) this.choose(cell);
  }

  /** Show the row of `cell` (on the current level's grid): marker now, weights when the worker answers. */
  choose(cell) {
    if (this.cell && this.cell.index === cell.index) return;
    this.cell = cell;
    this.#placeMarker(cell);
    this.#pump();
  }

  #placeMarker({ row, col }) {
    const { stride } = this.desc.levels[this.level];
    const [oh, ow] = this.desc.output;
    const m = this.el.marker;
    const x0 = col * stride, y0 = row * stride;
    m.style.left = `${(100 * x0) / ow}%`;
    m.style.top = `${(100 * y0) / oh}%`;
    m.style.width = `${(100 * (Math.min(ow, x0 + stride) - x0)) / ow}%`;
    m.style.height = `${(100 * (Math.min(oh, y0 + stride) - y0)) / oh}%`;
    m.hidden = false;
  }

  /** One request in flight; when it returns, the latest cell asked for (if another) goes next. */
  async #pump() {
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        const gen = this.generation, level = this.level, cell = this.cell;
        if (!cell || (this.shown && this.shown.gen === gen && this.shown.level === level && this.shown.index === cell.index)) break;
        let weights;
        try {
          weights = await this.requestRow(level, cell.index);
        } catch (e) {
          if (gen === this.generation) this.el.summary.textContent = `The attention could not be computed: ${e.message || e}`;
          break;
        }
        if (gen !== this.generation) continue; // a new result arrived meanwhile
        this.shown = { gen, level, index: cell.index };
        if (this.level === level && this.cell && this.cell.index === cell.index) this.#draw(level, cell, weights);
      }
    } finally {
      this.busy = false;
    }
  }

  #draw(level, cell, weights) {
    const L = this.desc.levels[level];
    const [rows, cols] = L.styleGrid;
    const s = summarizeRow(weights, [rows, cols], this.desc.style, L.stride, TOP);
    this.row = weights;
    this.summary = s;
    const [SH, SW] = this.desc.stylePadded;
    const px = attentionPanel(this.base.data, weights, { grid: [rows, cols], stride: L.stride, style: this.desc.style,
      padded: [SH, SW] }, s);
    this.el.map.getContext('2d').putImageData(new ImageData(px, SW, SH), 0, 0);
    const [sh, sw] = this.desc.style;
    this.el.max.textContent = `${pct(s.max)} per cell (the strongest)`;
    const padded = sh < SH || sw < SW;
    this.el.legendText.textContent = `Weights of one point over the ${rows * cols} cells (${L.stride}×${L.stride} px of the ` +
      `style image each) sum to 100%. Ringed: the strongest cell; outlined: the ${TOP} strongest, those holding at least ` +
      `${pct(OUTLINE_MIN)}.` + (padded ? ' Past the dashed line: the mirrored strip the network pads the style image with.' : '');
    const [oh, ow] = this.desc.output;
    const x = Math.min(ow, (cell.col + 0.5) * L.stride), y = Math.min(oh, (cell.row + 0.5) * L.stride);
    this.el.summary.textContent = `Point ${Math.round(x)}, ${Math.round(y)} of the ${ow}×${oh} picture (${level}): ` +
      s.text.charAt(0).toLowerCase() + s.text.slice(1);
    Object.assign(this.element.dataset, { cell: `${cell.row},${cell.col}`, index: String(cell.index), level });
  }
}
