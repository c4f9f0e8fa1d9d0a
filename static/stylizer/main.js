// Entry point: mounts a Stylizer on every <div class="stylizer" data-model="..."> on the page.
// Vendored TF.js and the sample gallery are found relative to this module (the site copies this directory
// as stylizer.<hash>/ beside vendor/ and samples/), or from data-tfjs / data-samples on the root if given.

// Cross-origin isolation (for WASM threads) comes from the site's service worker, ../sw.js (the site root), which
// isolation.js registers; data-sw names another, data-isolate="false" on every root leaves service workers alone.

import { Stylizer } from './widget.js';
import { ensureIsolation } from './isolation.js';

export { Stylizer };
export const TFJS_VERSION = '4.22.0';

let isolation = null;

export function mountAll(scope = document) {
  const out = [];
  const roots = [...scope.querySelectorAll('.stylizer[data-model]')].filter((r) => !r.stylizer);
  if (roots.length && !isolation) {
    isolation = roots.every((r) => r.dataset.isolate === 'false')
      ? Promise.resolve(self.crossOriginIsolated ? 'isolated' : 'unavailable')
      : ensureIsolation(new URL(roots[0].dataset.sw || '../sw.js', import.meta.url).href);
  }
  for (const root of roots) {
    const vendorUrl = new URL(root.dataset.tfjs || `../vendor/tfjs-${TFJS_VERSION}/`, import.meta.url).href;
    const samplesBase = new URL(root.dataset.samples || '../samples/', import.meta.url);
    root.stylizer = new Stylizer(root, { vendorUrl, samplesBase, isolation }).mount();
    out.push(root.stylizer);
  }
  return out;
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => mountAll());
else mountAll();
