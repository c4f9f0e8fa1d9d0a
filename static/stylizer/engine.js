// Main-thread side of the worker: one engine per model URL per page, shared by every widget using it.

const engines = new Map();
let nextId = 1;

export class Engine extends EventTarget {
  constructor(manifestUrl, { vendorUrl, backend = null, warmupResolution = 512, threads = null } = {}) {
    super();
    this.manifestUrl = manifestUrl;
    this.info = null; // the 'ready' message once loaded
    this.error = null;
    this.jobs = new Map();
    this.rows = new Map(); // attention-row requests in flight: req -> {resolve, reject}
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'stylizer' });
    this.worker.onmessage = (e) => this.#onMessage(e.data);
    this.worker.onerror = (e) => this.#fail(`The stylizer engine failed to start: ${e.message || 'worker error'}`);
    this.worker.postMessage({ type: 'init', manifestUrl, vendorUrl, backend, warmupResolution, threads });
  }

  #fail(message) {
    this.error = message;
    this.dispatchEvent(new CustomEvent('init-error', { detail: { message } }));
    for (const [id, job] of this.jobs) { job.reject(new Error(message)); this.jobs.delete(id); }
    for (const [req, r] of this.rows) { r.reject(new Error(message)); this.rows.delete(req); }
  }

  #onMessage(msg) {
    const job = msg.id != null ? this.jobs.get(msg.id) : null;
    switch (msg.type) {
      case 'plan':
        if (job) job.onProgress({ stage: 'plan', steps: msg.steps });
        break;
      case 'preview':
        if (job) job.onProgress({ ...msg, stage: 'preview-ready' });
        break;
      case 'progress':
        if (job) job.onProgress(msg);
        else this.dispatchEvent(new CustomEvent('progress', { detail: msg }));
        break;
      case 'ready':
        this.info = msg;
        this.dispatchEvent(new CustomEvent('ready', { detail: msg }));
        break;
      case 'backend':
        this.info = { ...this.info, backend: msg.backend, maxResolution: msg.maxResolution, wasm: msg.wasm };
        this.dispatchEvent(new CustomEvent('backend', { detail: msg }));
        break;
      case 'init-error':
        this.#fail(msg.message);
        break;
      case 'result':
        if (job) { this.jobs.delete(msg.id); job.resolve(msg); }
        break;
      case 'cancelled':
        if (job) { this.jobs.delete(msg.id); job.resolve({ cancelled: true }); }
        break;
      case 'error':
        if (job) { this.jobs.delete(msg.id); const e = new Error(msg.message); e.kind = msg.kind; job.reject(e); }
        break;
      case 'attention-row': {
        const r = this.rows.get(msg.req);
        if (!r) break;
        this.rows.delete(msg.req);
        if (msg.error) r.reject(new Error(msg.error));
        else r.resolve(msg.weights);
        break;
      }
    }
  }

  /**
   * Stylize; resolves with {width, height, pixels, resolution, backend, notice, ms, executions} or {cancelled: true}.
   * style2 and mix: a second style and the first one's share; preview: px of a quick first picture (0: none),
   * which arrives through onProgress as {stage: 'preview-ready', width, height, pixels, resolution, ms}.
   * attention: a key (one per widget) under which the worker keeps the result's attention maps for
   * attentionRow; the result's `attention` then describes them (attention.js describeAttention), or is null.
   */
  run({ content, style, style2 = null, mix = 1, iterations, resolution, alpha, preview = 0, attention = null }, onProgress = () => {}) {
    const id = nextId++;
    const promise = new Promise((resolve, reject) => this.jobs.set(id, { resolve, reject, onProgress }));
    this.worker.postMessage({ type: 'run', id, content, style, style2, mix, iterations, resolution, alpha, preview, attention });
    return { id, promise, cancel: () => this.worker.postMessage({ type: 'cancel', id }) };
  }

  /** One row of the attention kept under `key` (see run): Promise<Float32Array>, the weights over the style grid. */
  attentionRow(key, level, index) {
    const req = nextId++;
    const promise = new Promise((resolve, reject) => this.rows.set(req, { resolve, reject }));
    this.worker.postMessage({ type: 'attention-row', req, key, level, index });
    return promise;
  }
}

/** The shared engine for a manifest URL (created on first use). */
export function engineFor(manifestUrl, options) {
  const key = new URL(manifestUrl, document.baseURI).href;
  if (!engines.has(key)) engines.set(key, new Engine(key, options));
  return engines.get(key);
}
