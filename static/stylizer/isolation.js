// Cross-origin isolation, so TF.js's WASM backend can use threads, on hosts that cannot send COOP/COEP headers
// (GitHub Pages): register the site's service worker (static/sw.js, which adds them and keeps copies for
// offline reloads) and reload once, on the first visit, so the page itself comes through it.

const TRIED = 'sanet-stylizer-isolation-reload';

/**
 * Resolves to 'isolated' (threads possible), 'reloading' (the page is about to reload: start nothing),
 * or 'unavailable' (no service workers here, or they failed: the stylizer runs single-threaded).
 */
export async function ensureIsolation(swUrl) {
  if (!('serviceWorker' in navigator) || !self.isSecureContext) return self.crossOriginIsolated ? 'isolated' : 'unavailable';
  try {
    await navigator.serviceWorker.register(swUrl);
    if (self.crossOriginIsolated) {
      sessionStorage.removeItem(TRIED);
      return 'isolated';
    }
    await navigator.serviceWorker.ready;
    // Not isolated: the worker was just installed, or this load bypassed it (a hard reload). One reload per
    // session puts the page under it; if that did not isolate it, carry on without threads (no reload loop).
    if (sessionStorage.getItem(TRIED)) return 'unavailable';
    sessionStorage.setItem(TRIED, '1');
    location.reload();
    return 'reloading';
  } catch {
    return self.crossOriginIsolated ? 'isolated' : 'unavailable';
  }
}
