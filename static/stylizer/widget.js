// One stylizer widget: builds its accessible UI inside <div class="stylizer" data-model="...">, takes images by
// file picker, drag and drop, paste, sample gallery or a camera snapshot, and drives the shared engine
// (engine.js / worker.js). Public contract (README "Stylizer widget"): data-state, data-backend, data-threads,
// named inputs, data-action buttons, data-sample buttons, canvas[data-role=result], [data-role=status].

import { engineFor } from './engine.js';
import { decodeImage, ImageInputError, cameraMessage } from './images.js';
import { describe, loadFraction, runFraction, formatBytes } from './progress.js';
import { SAMPLES, sampleUrl } from './samples.js';
import { clampResolution, fitLongSide } from './sizes.js';
import { AttentionExplorer } from './explorer.js';
import { h } from './dom.js';

/** Long side of the quick first picture shown while a larger resolution runs (root data-preview overrides; 0: none). */
export const PREVIEW_RESOLUTION = 256;

let widgetCount = 0;
let keyCount = 0;
const mounted = new Set();
let lastUsed = null; // the widget the reader last clicked, typed or focused in: where a page-wide paste goes

/** Which widget a paste outside every widget belongs to: the one last used, else the first on screen. */
function pasteTarget() {
  if (lastUsed && lastUsed.root.isConnected) return lastUsed;
  const live = [...mounted].filter((w) => w.root.isConnected);
  const onScreen = live.find((w) => {
    const r = w.root.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight;
  });
  return onScreen || (live.length === 1 ? live[0] : null);
}

/** Paste anywhere on the page (Ctrl+V after copying an image) fills a widget, unless typing in a text field. */
function onDocumentPaste(e) {
  if (e.defaultPrevented) return; // a widget already took it
  const t = e.target;
  const typing = t && (t.isContentEditable || t.tagName === 'TEXTAREA' ||
    (t.tagName === 'INPUT' && !['file', 'range', 'button', 'checkbox', 'radio'].includes(t.type)));
  const files = [...(e.clipboardData?.files || [])];
  const w = !typing && files.length ? pasteTarget() : null;
  if (!w) return;
  e.preventDefault();
  w.paste(files[0], null);
}
const SLOTS = {
  content: { legend: 'Your photo', choose: 'Choose a photo', kind: 'photo', samples: 'content' },
  style: { legend: 'Style image (a painting)', choose: 'Choose a style image', kind: 'style image', samples: 'style' },
  style2: { legend: 'Second style, to mix in (optional)', choose: 'Choose a second style image', kind: 'second style image',
    samples: 'style', optional: true },
};
const REQUIRED = ['content', 'style'];

export class Stylizer {
  constructor(root, { vendorUrl, samplesBase, backend = null, isolation = Promise.resolve('unavailable') } = {}) {
    this.root = root;
    this.n = ++widgetCount;
    this.images = { content: null, style: null, style2: null };
    this.job = null;
    this.hasResult = false;
    this.shown = null; // what the result canvas holds: {kind: 'preview' | 'full', ...}
    this.attentionKey = `w${this.n}`; // where the worker keeps this widget's last attention maps
    this.vendorUrl = vendorUrl;
    this.samplesBase = samplesBase;
    this.backend = backend || root.dataset.forceBackend || null;
    this.isolation = isolation;
    const threads = Number(root.dataset.threads);
    this.threads = Number.isInteger(threads) && threads > 0 ? threads : null;
    const preview = root.dataset.preview;
    this.previewResolution = preview == null || preview === '' ? PREVIEW_RESOLUTION : Math.max(0, Number(preview) || 0);
  }

  mount() {
    this.#build();
    this.#bind();
    this.setState('loading');
    this.status('Loading the stylizer…');
    const manifestUrl = this.root.dataset.model;
    if (!manifestUrl) { this.#engineFailed('This widget has no data-model attribute naming the model manifest.'); return this; }
    this.isolation.then((state) => {
      if (state === 'reloading') { this.status('Turning on multi-threading: the page reloads once…'); return; }
      this.#startEngine(manifestUrl);
    });
    return this;
  }

  #startEngine(manifestUrl) {
    this.engine = engineFor(manifestUrl, { vendorUrl: this.vendorUrl, backend: this.backend, threads: this.threads,
      warmupResolution: Number(this.el.resolution.min) });
    if (this.engine.info) this.#engineReady(this.engine.info);
    else if (this.engine.error) this.#engineFailed(this.engine.error);
    this.engine.addEventListener('progress', (e) => this.#loadProgress(e.detail));
    this.engine.addEventListener('ready', (e) => this.#engineReady(e.detail));
    this.engine.addEventListener('init-error', (e) => this.#engineFailed(e.detail.message));
    this.engine.addEventListener('backend', (e) => this.#showBackend(e.detail.backend, e.detail.wasm));
  }

  setState(s) { this.root.dataset.state = s; }
  status(text) { this.el.status.textContent = text; }

  // ------------------------------------------------------------------ markup
  #build() {
    const id = (s) => `stylizer${this.n}-${s}`;
    const r = this.root;
    r.replaceChildren();
    r.classList.add('stylizer');
    r.setAttribute('role', 'group');
    r.setAttribute('aria-label', 'Stylize your photo');
    const el = (this.el = {});
    el.notice = h('p', { class: 'stylizer__notice', 'data-role': 'notice', hidden: true });
    const slots = Object.entries(SLOTS).map(([slot, t]) => {
      const input = h('input', { type: 'file', id: id(slot), name: slot, accept: 'image/*', 'aria-describedby': id(`${slot}-err`) });
      const extra = [];
      if (slot === 'content') {
        // a camera snapshot: one frame, taken in this page, never uploaded
        el.camera = h('button', { type: 'button', class: 'stylizer__camera', 'data-action': 'camera', text: 'Take a photo with the camera' });
        el.video = h('video', { muted: true, playsinline: true, 'aria-label': 'Camera preview' });
        el.video.muted = true;
        el.snap = h('button', { type: 'button', 'data-action': 'snap', text: 'Take the picture' });
        el.cameraClose = h('button', { type: 'button', 'data-action': 'camera-close', text: 'Close the camera' });
        el.cameraView = h('div', { class: 'stylizer__camera-view', 'data-role': 'camera', hidden: true }, el.video,
          h('div', { class: 'stylizer__camera-actions' }, el.snap, el.cameraClose));
        extra.push(el.camera, el.cameraView);
      }
      if (t.optional) {
        el[`${slot}Clear`] = h('button', { type: 'button', class: 'stylizer__clear', 'data-action': `clear-${slot}`,
          text: 'Remove the second style', disabled: true });
        extra.push(el[`${slot}Clear`]);
      }
      const preview = h('canvas', { class: 'stylizer__preview', 'data-role': `${slot}-preview`, width: 1, height: 1, 'aria-hidden': 'true' });
      const drop = h('div', {
        class: 'stylizer__drop', tabindex: '0', 'data-role': `drop-${slot}`, 'data-slot': slot, role: 'button',
        'aria-label': `${t.legend}: drop an image here, paste one while this is focused, or press Enter to choose a file`,
      }, preview, h('span', { class: 'stylizer__hint', text: 'Drop, paste, or choose an image' }));
      const samples = h('div', { class: 'stylizer__samples', role: 'group', 'aria-label': `Sample ${t.kind}s` },
        SAMPLES[t.samples].map((s) => h('button', { type: 'button', class: 'stylizer__sample', 'data-sample': slot,
          'data-file': s.file, 'aria-label': `Use sample ${t.kind}: ${s.label}`, title: s.label },
        h('img', { src: sampleUrl(s.file, this.samplesBase), alt: '', loading: 'lazy', width: 64, height: 48 }))));
      const err = h('p', { class: 'stylizer__error', id: id(`${slot}-err`), 'data-role': 'error', 'data-slot': slot, role: 'alert', hidden: true });
      el[slot] = input; el[`${slot}Preview`] = preview; el[`${slot}Drop`] = drop; el[`${slot}Error`] = err;
      return h('fieldset', { class: 'stylizer__slot', 'data-slot': slot },
        h('legend', { text: t.legend }), drop,
        h('label', { for: id(slot), class: 'stylizer__choose', text: `${t.choose}:` }), input, ...extra,
        h('p', { class: 'stylizer__label', text: 'Or a sample:' }), samples, err);
    });
    const range = (name, label, attrs, fmt) => {
      const input = h('input', { type: 'range', id: id(name), name, ...attrs });
      const out = h('output', { for: id(name), id: id(`${name}-out`) });
      const show = () => { out.textContent = fmt(input.value); };
      input.addEventListener('input', show);
      el[name] = input; el[`${name}Out`] = out; el[`${name}Show`] = show;
      show();
      return h('div', { class: 'stylizer__control' }, h('label', { for: id(name), text: label }), input, out);
    };
    const controls = h('div', { class: 'stylizer__controls' },
      range('iterations', 'Iterations', { min: 1, max: 4, step: 1, value: 1 }, (v) => `${v}`),
      range('resolution', 'Resolution (long side)', { min: 256, max: 1024, step: 32, value: 512 }, (v) => `${v} px`),
      range('alpha', 'Style strength', { min: 0, max: 1, step: 0.05, value: 1 }, (v) => Number(v).toFixed(2)),
      range('mix', 'Mix: first style / second style', { min: 0, max: 1, step: 0.05, value: 0.5, disabled: true },
        (v) => `${Math.round(v * 100)} / ${100 - Math.round(v * 100)}`));
    el.stylize = h('button', { type: 'button', class: 'stylizer__go', 'data-action': 'stylize', text: 'Stylize', disabled: true });
    el.cancel = h('button', { type: 'button', 'data-action': 'cancel', text: 'Cancel', disabled: true });
    el.download = h('button', { type: 'button', 'data-action': 'download', text: 'Download PNG', disabled: true });
    el.progress = h('progress', { 'data-role': 'progress', max: 1, value: 0, 'aria-label': 'Progress' });
    el.status = h('p', { class: 'stylizer__status', 'data-role': 'status', role: 'status', 'aria-live': 'polite' });
    el.backend = h('p', { class: 'stylizer__backend', 'data-role': 'backend' });
    el.result = h('canvas', { 'data-role': 'result', width: 0, height: 0, role: 'img', 'aria-label': 'Stylized result' });
    el.before = h('canvas', { 'data-role': 'before', width: 0, height: 0, 'aria-hidden': 'true' });
    el.compare = h('input', { type: 'range', id: id('compare'), name: 'compare', min: 0, max: 100, value: 50,
      'aria-label': 'Before and after: slide to reveal the original photo' });
    el.figure = h('figure', { class: 'stylizer__result', hidden: true },
      el.compareBox = h('div', { class: 'stylizer__compare' }, el.result, el.before),
      h('label', { for: id('compare'), class: 'stylizer__compare-label', text: 'Before / after' }), el.compare,
      el.caption = h('figcaption', { 'data-role': 'caption' }));
    // the attention explorer: hover, tap or arrow keys on the result; rows from the worker
    this.explorer = new AttentionExplorer({ target: el.compareBox, picture: el.result, id,
      requestRow: (level, index) => this.engine.attentionRow(this.attentionKey, level, index) });
    r.append(el.notice, h('div', { class: 'stylizer__inputs' }, slots), controls,
      h('div', { class: 'stylizer__actions' }, el.stylize, el.cancel, el.download),
      el.progress, el.status, el.backend, el.figure, this.explorer.element);
    this.#applyCompare();
  }

  // ------------------------------------------------------------------ events
  #bind() {
    const el = this.el;
    for (const slot of Object.keys(SLOTS)) {
      el[slot].addEventListener('change', () => { const f = el[slot].files[0]; if (f) this.setImage(slot, f); });
      const drop = el[`${slot}Drop`];
      drop.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); el[slot].click(); }
      });
      drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('is-over'); });
      drop.addEventListener('dragleave', () => drop.classList.remove('is-over'));
      drop.addEventListener('drop', (e) => {
        e.preventDefault();
        drop.classList.remove('is-over');
        const f = e.dataTransfer && e.dataTransfer.files[0];
        if (f) this.setImage(slot, f);
        else this.#slotError(slot, 'That drop held no file. Drag an image file from your computer.');
      });
    }
    this.root.addEventListener('paste', (e) => {
      const files = [...(e.clipboardData?.files || [])];
      if (!files.length) return;
      e.preventDefault();
      const zone = e.target.closest && e.target.closest('[data-slot]');
      this.paste(files[0], zone ? zone.dataset.slot : null);
    });
    for (const type of ['pointerdown', 'focusin']) this.root.addEventListener(type, () => { lastUsed = this; });
    if (!mounted.size) document.addEventListener('paste', onDocumentPaste);
    mounted.add(this);
    this.root.addEventListener('click', (e) => {
      const b = e.target.closest('[data-sample]');
      if (b && this.root.contains(b)) this.useSample(b.dataset.sample, b.dataset.file);
    });
    el.camera.addEventListener('click', () => this.openCamera());
    el.snap.addEventListener('click', () => this.snapshot());
    el.cameraClose.addEventListener('click', () => this.closeCamera());
    el.style2Clear.addEventListener('click', () => this.clearImage('style2'));
    el.stylize.addEventListener('click', () => this.stylize());
    el.cancel.addEventListener('click', () => this.cancel());
    el.download.addEventListener('click', () => this.download());
    el.compare.addEventListener('input', () => this.#applyCompare());
  }

  #applyCompare() {
    const v = Number(this.el.compare.value);
    this.el.before.style.clipPath = `inset(0 ${100 - v}% 0 0)`;
  }

  #slotError(slot, message) {
    const err = this.el[`${slot}Error`];
    err.textContent = message;
    err.hidden = !message;
    if (message) this.status(message);
  }

  async useSample(slot, file) {
    try {
      const res = await fetch(sampleUrl(file, this.samplesBase));
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const blob = await res.blob();
      await this.setImage(slot, new File([blob], file, { type: blob.type || 'image/jpeg' }));
    } catch (e) {
      this.#slotError(slot, `The sample image could not be loaded (${e.message}).`);
    }
  }

  /** A pasted image goes to `slot`, or when none is named to the photo unless only the style is missing. */
  paste(file, slot = null) {
    return this.setImage(slot || (this.images.content && !this.images.style ? 'style' : 'content'), file);
  }

  /** Take a File/Blob for `slot` ('content', 'style' or 'style2'): decode, preview, or show an inline error. */
  async setImage(slot, file) {
    try {
      const bitmap = await decodeImage(file);
      const old = this.images[slot];
      if (old) old.bitmap.close();
      this.images[slot] = { bitmap, key: `w${this.n}-${slot}-${++keyCount}`, name: file.name || 'pasted image' };
      this.#slotError(slot, '');
      this.#drawPreview(slot, bitmap);
      if (slot === 'style2') { this.el.mix.disabled = false; this.el.style2Clear.disabled = false; }
      const missing = REQUIRED.find((s) => !this.images[s]);
      this.status(missing
        ? `Got the ${SLOTS[slot].kind} (${bitmap.width}×${bitmap.height}); now choose the ${SLOTS[missing].kind}.`
        : `Ready to stylize ${bitmap.width}×${bitmap.height} ${SLOTS[slot].kind}.`);
    } catch (e) {
      this.#slotError(slot, e instanceof ImageInputError ? e.message : `That file could not be used: ${e.message}`);
    } finally {
      if (this.el[slot].value) this.el[slot].value = ''; // choosing the same file again fires change again
    }
  }

  /** Forget the image in an optional slot (the second style). */
  clearImage(slot) {
    const old = this.images[slot];
    if (!old) return;
    old.bitmap.close();
    this.images[slot] = null;
    this.el[`${slot}Drop`].classList.remove('has-image');
    if (slot === 'style2') { this.el.mix.disabled = true; this.el.style2Clear.disabled = true; }
    this.status('Removed the second style.');
  }

  // ------------------------------------------------------------------ camera
  /** Open the camera (getUserMedia) and show its live picture; snapshot() takes one frame as the photo. */
  async openCamera() {
    if (this.stream) return;
    const md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) {
      this.#slotError('content', cameraMessage({ name: 'NotSupportedError' }));
      return;
    }
    this.status('Asking for the camera…');
    try {
      this.stream = await md.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 960 } }, audio: false });
    } catch (e) {
      this.#slotError('content', cameraMessage(e));
      return;
    }
    const el = this.el;
    el.video.srcObject = this.stream;
    el.cameraView.hidden = false;
    try { await el.video.play(); } catch { /* muted video: play() only fails if the stream ended */ }
    this.#slotError('content', '');
    this.status('Camera on: press “Take the picture”.');
    el.snap.focus();
  }

  /** One frame of the camera as the photo; the camera is then turned off. */
  async snapshot() {
    const v = this.el.video;
    if (!this.stream || !v.videoWidth) return;
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext('2d').drawImage(v, 0, 0);
    this.closeCamera();
    const blob = await new Promise((resolve) => c.toBlob(resolve, 'image/png'));
    await this.setImage('content', new File([blob], 'camera snapshot.png', { type: 'image/png' }));
  }

  closeCamera() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.el.video.srcObject = null;
    this.el.cameraView.hidden = true;
  }

  #drawPreview(slot, bitmap) {
    const c = this.el[`${slot}Preview`];
    const s = 160 / Math.max(bitmap.width, bitmap.height);
    c.width = Math.max(1, Math.round(bitmap.width * s));
    c.height = Math.max(1, Math.round(bitmap.height * s));
    c.getContext('2d').drawImage(bitmap, 0, 0, c.width, c.height);
    this.el[`${slot}Drop`].classList.add('has-image');
  }

  // ------------------------------------------------------------------ engine
  #loadProgress(ev) {
    if (this.root.dataset.state !== 'loading') return;
    this.el.progress.value = loadFraction(ev.stage, ev.done ?? 0, ev.total ?? 1);
    this.status(describe(ev));
  }

  #engineReady(info) {
    if (this.ready) return;
    this.ready = true;
    this.#showBackend(info.backend, info.wasm, info.crossOriginIsolated);
    const el = this.el;
    el.resolution.max = info.maxResolution;
    el.resolution.value = clampResolution(el.resolution.value, { max: info.maxResolution });
    el.resolutionShow();
    const m = info.manifest;
    if (!m.trained) {
      el.notice.textContent = `Note: this model (${m.name} ${m.version}) has untrained weights, so results show the ` +
        'pipeline at work, not real stylizations.';
      el.notice.hidden = false;
    } else if (m.training && m.training.interim) {
      el.notice.textContent = `Note: this is an interim model (${m.name} ${m.version}): ${m.description}. ` +
        'A better one is training.';
      el.notice.hidden = false;
    }
    const tests = info.selftest.map((r) => (r.ok ? `${r.backend} ${r.ms.toFixed(0)} ms` : `${r.backend}: ${r.error}`)).join('; ');
    el.backend.title = `Self-test: ${tests}`;
    el.stylize.disabled = false;
    el.progress.value = 1;
    const dl = info.stats.downloadedBytes ? `downloaded ${formatBytes(info.stats.downloadedBytes)}` : 'model from cache';
    this.setState('ready');
    this.status(`Ready (${dl}). Choose a photo and a style, then press Stylize.`);
  }

  #showBackend(name, wasm = null, isolated = this.engine?.info?.crossOriginIsolated) {
    this.root.dataset.backend = name;
    const label = { wasm: 'WebAssembly (CPU)', webgl: 'WebGL (GPU)', webgpu: 'WebGPU (GPU)', cpu: 'plain JavaScript (slow)' }[name] || name;
    let threads = '';
    if (name === 'wasm' && wasm) {
      this.root.dataset.threads = wasm.threads;
      threads = `, ${wasm.threads} thread${wasm.threads === 1 ? '' : 's'}` +
        (wasm.threads === 1 && !isolated ? ' (this page is not cross-origin isolated)' : '');
    } else {
      delete this.root.dataset.threads;
    }
    this.el.backend.textContent = `Engine: ${label}${threads}, chosen by a speed test on this device.`;
    if (wasm) this.el.backend.dataset.wasm = wasm.binary || '';
  }

  #engineFailed(message) {
    this.setState('error');
    this.el.stylize.disabled = true;
    this.status(`The stylizer could not start: ${message}`);
  }

  params() {
    const el = this.el;
    return {
      iterations: Math.min(4, Math.max(1, Math.round(Number(el.iterations.value)))),
      resolution: clampResolution(el.resolution.value, { max: Number(el.resolution.max) }),
      alpha: Math.min(1, Math.max(0, Number(el.alpha.value))),
      mix: this.images.style2 ? Math.min(1, Math.max(0, Number(el.mix.value))) : 1,
    };
  }

  async stylize() {
    if (this.job || !this.ready) return;
    for (const slot of REQUIRED) {
      if (!this.images[slot]) { this.#slotError(slot, `Choose a ${SLOTS[slot].kind} first.`); this.el[slot].focus(); return; }
    }
    const p = this.params();
    const { content, style, style2 } = this.images;
    const el = this.el;
    this.setState('running');
    this.explorer.hide(); // the picture it explores is about to be replaced
    el.stylize.disabled = true;
    el.cancel.disabled = false;
    el.progress.value = 0;
    this.status('Starting…');
    let steps = [];
    const image = (img) => img && { key: img.key, bitmap: img.bitmap };
    const job = this.engine.run({
      content: image(content), style: image(style), style2: image(style2), ...p, preview: this.previewResolution,
      attention: this.attentionKey,
    }, (ev) => {
      if (ev.stage === 'fallback') { this.status(ev.message); return; }
      if (ev.stage === 'plan') { steps = ev.steps; return; } // the worker's plan (preview and full), knowing its caches
      if (ev.stage === 'preview-ready') { this.#showPicture(ev, content.bitmap, p, 'preview'); return; }
      el.progress.value = Math.max(el.progress.value, runFraction(steps, ev.index ?? 0));
      this.status(describe(ev));
    });
    this.job = job;
    try {
      const r = await job.promise;
      if (r.cancelled) {
        const preview = this.shown?.kind === 'preview';
        if (preview && this.lastFull) this.#restore(this.lastFull);
        if (this.lastFull?.attention && this.shown?.kind === 'full') this.#explore(this.lastFull.attention);
        this.setState(this.hasResult ? 'done' : 'ready');
        this.status(preview && !this.lastFull ? 'Cancelled: only the preview was made.' : 'Cancelled.');
        if (preview && !this.lastFull) el.caption.textContent = `Preview only (${this.shown.width}×${this.shown.height} px): cancelled before the full resolution.`;
        el.progress.value = 0;
        return;
      }
      this.#showPicture(r, content.bitmap, p, 'full');
      this.lastFull.attention = r.attention && { desc: r.attention, style };
      this.#explore(this.lastFull.attention);
    } catch (e) {
      this.setState('error');
      this.status(e.message);
    } finally {
      this.job = null;
      el.stylize.disabled = false;
      el.cancel.disabled = true;
    }
  }

  /** Draw a result (kind 'full') or the quick preview of one (kind 'preview') with its before/after photo. */
  #showPicture(r, contentBitmap, p, kind) {
    const el = this.el;
    const image = new ImageData(new Uint8ClampedArray(r.pixels), r.width, r.height);
    el.result.width = r.width;
    el.result.height = r.height;
    el.result.getContext('2d').putImageData(image, 0, 0);
    el.result.dataset.kind = kind;
    el.before.width = r.width;
    el.before.height = r.height;
    const bctx = el.before.getContext('2d');
    bctx.imageSmoothingQuality = 'high';
    bctx.drawImage(contentBitmap, 0, 0, r.width, r.height);
    el.figure.hidden = false;
    const mixed = this.images.style2 && p.mix < 1 ? `, styles mixed ${Math.round(p.mix * 100)} / ${100 - Math.round(p.mix * 100)}` : '';
    const secs = (r.ms / 1000).toFixed(1);
    if (kind === 'preview') {
      // shown at the size the full result will have, so the page does not jump when it arrives
      const [fh, fw] = fitLongSide(contentBitmap.height, contentBitmap.width, p.resolution);
      el.result.style.width = `${fw}px`;
      el.download.disabled = true;
      el.caption.textContent = `Preview at ${r.width}×${r.height} px (${secs} s); the ${fw}×${fh} px result is on its way…`;
      this.shown = { kind, width: r.width, height: r.height };
      return;
    }
    el.result.style.width = '';
    el.download.disabled = false;
    el.progress.value = 1;
    this.hasResult = true;
    if (r.resolution !== p.resolution) { el.resolution.value = r.resolution; el.resolutionShow(); }
    el.caption.textContent = `${r.width}×${r.height} px, ${p.iterations} iteration${p.iterations > 1 ? 's' : ''}, ` +
      `style strength ${p.alpha.toFixed(2)}${mixed}, ${secs} s on ${r.backend}.`;
    this.lastResult = { width: r.width, height: r.height, ms: r.ms, backend: r.backend, tensors: r.tensors, executions: r.executions };
    this.shown = { kind, width: r.width, height: r.height };
    this.lastFull = { image, before: bctx.getImageData(0, 0, r.width, r.height), caption: el.caption.textContent };
    this.setState('done');
    this.status(`Done: ${r.width}×${r.height} in ${secs} s.${r.notice ? ' ' + r.notice : ''}`);
  }

  /** Explore a full result's attention ({desc, style: the style image it ran with}), if it has some and that
   * style image is still at hand (choosing another one closes its bitmap). */
  #explore(attention) {
    if (attention && this.images.style === attention.style) this.explorer.show(attention.desc, attention.style.bitmap);
    else this.explorer.hide();
  }

  /** Put a kept full result back on the canvases (after a cancelled run that had drawn its preview). */
  #restore(full) {
    const el = this.el;
    for (const [canvas, data] of [[el.result, full.image], [el.before, full.before]]) {
      canvas.width = data.width;
      canvas.height = data.height;
      canvas.getContext('2d').putImageData(data, 0, 0);
    }
    el.result.dataset.kind = 'full';
    el.result.style.width = '';
    el.caption.textContent = full.caption;
    el.download.disabled = false;
    this.shown = { kind: 'full', width: full.image.width, height: full.image.height };
  }

  cancel() {
    if (!this.job) return;
    this.status('Cancelling at the next step…');
    this.el.cancel.disabled = true;
    this.job.cancel();
  }

  download() {
    const c = this.el.result;
    if (!this.hasResult || this.shown?.kind !== 'full') return;
    c.toBlob((blob) => {
      const a = h('a', { href: URL.createObjectURL(blob), download: `stylized-${c.width}x${c.height}.png` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    }, 'image/png');
  }
}
