// The site's service worker, registered by the stylizer (static/stylizer/isolation.js). Two jobs:
// 1. Cross-origin isolation where the host cannot send headers (GitHub Pages): every response it serves gets
//    COOP same-origin and COEP require-corp (what the coi-serviceworker package does), so the page may use
//    SharedArrayBuffer and TF.js's WASM backend its threads.
// 2. Offline reloads: same-origin GETs go to the network first, and a copy of each good response is kept, so a
//    reload without a connection still opens the page and the stylizer. Requests made with cache: 'no-store'
//    (the model files, which the stylizer keeps in its own verified cache) are passed on and never copied.
// Only same-origin GETs are handled; anything else goes to the browser untouched.

const CACHE = 'sanet-site-offline';
const MAX_ENTRIES = 120; // the page, its CSS and scripts, TF.js, samples: a few MB; oldest copies go first

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET' || new URL(request.url).origin !== self.location.origin) return;
  if (request.cache === 'only-if-cached' && request.mode !== 'same-origin') return;
  event.respondWith(respond(request, event));
});

async function respond(request, event) {
  let response;
  try {
    response = await fetch(request);
  } catch (err) {
    const copy = await caches.match(request, { cacheName: CACHE });
    if (copy) return isolated(copy);
    throw err; // offline and never seen: the browser's own error page
  }
  if (response.status === 200 && response.type === 'basic' && request.cache !== 'no-store' &&
      !(response.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    event.waitUntil(keep(request, response.clone()));
  }
  return isolated(response);
}

async function keep(request, response) {
  try {
    const cache = await caches.open(CACHE);
    await cache.put(request, response);
    const keys = await cache.keys();
    for (const old of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) await cache.delete(old);
  } catch { /* quota or a storage error: the page works online all the same */ }
}

/** The response with the headers that make the page cross-origin isolated. */
function isolated(response) {
  if (response.status === 0) return response; // opaque: headers cannot be changed
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Resource-Policy', 'same-origin');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
