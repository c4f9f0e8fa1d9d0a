// The model manifest (static/model/manifest.json, written by `python -m model export`): validation and the
// pure helpers that turn verified bytes into TF.js model artifacts. No DOM; runs in Node tests and the worker.

export const MANIFEST_FORMAT = 1;
export const GRAPH_NAMES = ['encoder', 'transform', 'decoder'];

export class ManifestError extends Error {}

/** Check a parsed manifest against the contract; returns it, or throws ManifestError naming the problem. */
export function validateManifest(m) {
  const fail = (msg) => { throw new ManifestError(`model manifest: ${msg}`); };
  if (!m || typeof m !== 'object') fail('not a JSON object');
  if (m.format !== MANIFEST_FORMAT) fail(`format ${m.format} is not supported (expected ${MANIFEST_FORMAT})`);
  if (typeof m.version !== 'string' || !m.version) fail('missing "version"');
  for (const k of ['size_multiple', 'min_side', 'style_max_resolution']) {
    if (!Number.isInteger(m[k]) || m[k] <= 0) fail(`"${k}" must be a positive integer`);
  }
  if (!m.graphs || typeof m.graphs !== 'object') fail('missing "graphs"');
  for (const g of GRAPH_NAMES) {
    const graph = m.graphs[g];
    if (!graph || typeof graph.path !== 'string') fail(`graph "${g}" has no path`);
    if (!Array.isArray(graph.inputs) || !Array.isArray(graph.outputs)) fail(`graph "${g}" lacks inputs/outputs`);
    if (!m.files || !m.files[graph.path]) fail(`graph "${g}" (${graph.path}) is not listed in "files"`);
  }
  // The transform's first output is t; the attention explorer's query and key maps may follow it.
  const want = { encoder: [1, 2], transform: [4, 1], decoder: [1, 1] };
  for (const [g, [ni, no]] of Object.entries(want)) {
    const n = m.graphs[g].outputs.length;
    if (m.graphs[g].inputs.length !== ni || (g === 'transform' ? n < no : n !== no)) {
      fail(`graph "${g}" must have ${ni} input(s) and ${g === 'transform' ? 'at least ' : ''}${no} output(s)`);
    }
  }
  if (m.attention != null) {
    const a = m.attention;
    const outs = a && m.graphs[a.graph] ? m.graphs[a.graph].outputs.slice(1) : null;
    if (!outs || !a.levels || typeof a.levels !== 'object') fail('"attention" must name a graph and its levels');
    for (const [level, l] of Object.entries(a.levels)) {
      if (!outs.includes(l.query) || !outs.includes(l.key) || !Number.isInteger(l.stride) || l.stride <= 0) {
        fail(`attention level "${level}" needs query and key outputs of graph "${a.graph}" and a positive stride`);
      }
    }
  }
  for (const [path, f] of Object.entries(m.files || {})) {
    if (path.includes('..') || path.startsWith('/') || /^[a-z]+:/i.test(path)) fail(`file path "${path}" escapes the model directory`);
    if (!Number.isInteger(f.bytes) || f.bytes < 0) fail(`file "${path}" has no byte count`);
    if (!/^[0-9a-f]{64}$/.test(f.sha256 || '')) fail(`file "${path}" has no sha256`);
  }
  return m;
}

/** Total bytes of every file the graphs need (what a cold visit downloads). */
export function modelBytes(m) {
  return Object.values(m.files).reduce((a, f) => a + f.bytes, 0);
}

/** Lowercase hex of an ArrayBuffer/TypedArray. */
export function toHex(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer.buffer ? buffer.buffer : buffer);
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** SHA-256 hex of bytes with Web Crypto (browser, worker and Node 20 all have crypto.subtle). */
export async function sha256Hex(bytes) {
  return toHex(await crypto.subtle.digest('SHA-256', bytes));
}

/** Throws unless `bytes` has the size and sha256 the manifest lists for `path`. */
export async function verifyFile(manifest, path, bytes) {
  const want = manifest.files[path];
  if (!want) throw new ManifestError(`model file ${path} is not in the manifest`);
  if (bytes.byteLength !== want.bytes) {
    throw new ManifestError(`model file ${path}: got ${bytes.byteLength} bytes, manifest says ${want.bytes}`);
  }
  const got = await sha256Hex(bytes);
  if (got !== want.sha256) throw new ManifestError(`model file ${path}: sha256 ${got} does not match the manifest`);
}

/** Directory part of a manifest-relative path ("v1/encoder/model.json" -> "v1/encoder/"). */
export function dirOf(path) {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i + 1);
}

/** The weight shard paths (manifest-relative) a graph's model.json names, in order. */
export function shardPaths(graphPath, modelJson) {
  const dir = dirOf(graphPath);
  return (modelJson.weightsManifest || []).flatMap((group) => group.paths.map((p) => dir + p));
}

/** Concatenate shard buffers into one ArrayBuffer (TF.js wants the weights as one blob, in manifest order). */
export function concatBuffers(buffers) {
  const total = buffers.reduce((a, b) => a + b.byteLength, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) { out.set(new Uint8Array(b), off); off += b.byteLength; }
  return out.buffer;
}

/** TF.js ModelArtifacts from a parsed model.json and its shards' bytes (for tf.io.fromMemory). */
export function toArtifacts(modelJson, shardBuffers) {
  return {
    modelTopology: modelJson.modelTopology,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    signature: modelJson.signature,
    userDefinedMetadata: modelJson.userDefinedMetadata,
    modelInitializer: modelJson.modelInitializer,
    weightSpecs: (modelJson.weightsManifest || []).flatMap((g) => g.weights),
    weightData: concatBuffers(shardBuffers),
  };
}
