// Downloading the model once, verifying every file against the manifest's sha256, and keeping the verified
// bytes in the Cache API under the model's version, so a second visit reads them without any request.
// Runs in the worker (fetch, caches and crypto.subtle all exist there) and in Node (no Cache API: downloads).

import { validateManifest, verifyFile, shardPaths, toArtifacts, GRAPH_NAMES, modelBytes } from './manifest.js';

export const CACHE_NAME = 'sanet-stylizer-model';

async function openCache() {
  try {
    return typeof caches !== 'undefined' ? await caches.open(CACHE_NAME) : null;
  } catch {
    return null; // e.g. storage disabled: still works, just downloads every visit
  }
}

/** Fetch and validate the manifest; revalidated with the server on every visit (it names the version). */
export async function loadManifest(manifestUrl) {
  const res = await fetch(manifestUrl, { cache: 'no-cache', credentials: 'same-origin' });
  if (!res.ok) throw new Error(`Could not load the model manifest (${res.status} ${res.statusText}) from ${manifestUrl}`);
  return validateManifest(await res.json());
}

async function download(url, onBytes) {
  // no-store: the verified bytes live in the Cache API below, so neither the HTTP cache nor the site's
  // service worker (static/sw.js, which copies other responses for offline reloads) keeps a second copy
  const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) throw new Error(`Could not download ${url} (${res.status})`);
  if (!res.body) { const b = await res.arrayBuffer(); onBytes(b.byteLength); return b; }
  const reader = res.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    n += value.byteLength;
    onBytes(value.byteLength);
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) { out.set(c, off); off += c.byteLength; }
  return out.buffer;
}

/**
 * Load every graph's files. onProgress({stage:'download', done, total, fromCache}).
 * Returns {manifest, artifacts: {encoder, transform, decoder}, stats: {downloadedBytes, cachedBytes}}.
 */
export async function loadModel(manifestUrl, onProgress = () => {}) {
  onProgress({ stage: 'manifest' });
  const manifest = await loadManifest(manifestUrl);
  const base = new URL('.', new URL(manifestUrl, globalThis.location?.href)).href; // Node: an absolute URL
  const cache = await openCache();
  const total = modelBytes(manifest);
  let done = 0;
  const stats = { downloadedBytes: 0, cachedBytes: 0 };

  const getFile = async (path) => {
    const url = new URL(path, base).href; // paths carry the version directory, so URLs are version keys
    if (cache) {
      const hit = await cache.match(url);
      if (hit) {
        const bytes = await hit.arrayBuffer();
        try {
          await verifyFile(manifest, path, bytes);
          done += bytes.byteLength;
          stats.cachedBytes += bytes.byteLength;
          onProgress({ stage: 'download', done, total, fromCache: true });
          return bytes;
        } catch {
          await cache.delete(url); // corrupt or stale: fetch again
        }
      }
    }
    const bytes = await download(url, (n) => {
      done += n;
      stats.downloadedBytes += n;
      onProgress({ stage: 'download', done, total, fromCache: false });
    });
    await verifyFile(manifest, path, bytes);
    if (cache) {
      try {
        await cache.put(url, new Response(bytes, { headers: { 'Content-Type': 'application/octet-stream' } }));
      } catch { /* quota: fine, just not cached */ }
    }
    return bytes;
  };

  const artifacts = {};
  for (const name of GRAPH_NAMES) {
    const graphPath = manifest.graphs[name].path;
    const modelJson = JSON.parse(new TextDecoder().decode(await getFile(graphPath)));
    const shards = [];
    for (const p of shardPaths(graphPath, modelJson)) shards.push(await getFile(p));
    artifacts[name] = toArtifacts(modelJson, shards);
  }
  if (cache) await pruneCache(cache, manifest, base);
  return { manifest, artifacts, stats };
}

/** Drop cached files of other versions of this model (same directory, not in this manifest). */
async function pruneCache(cache, manifest, base) {
  const keep = new Set(Object.keys(manifest.files).map((p) => new URL(p, base).href));
  for (const req of await cache.keys()) {
    if (req.url.startsWith(base) && !keep.has(req.url)) await cache.delete(req);
  }
}
