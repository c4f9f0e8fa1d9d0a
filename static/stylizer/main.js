// Entry point: mounts a Stylizer on every <div class="stylizer" data-model="..."> on the page.
// Vendored TF.js and the sample gallery are found relative to this module (the site copies this directory
// as stylizer.<hash>/ beside vendor/ and samples/), or from data-tfjs / data-samples on the root if given.

import { Stylizer } from './widget.js';

export { Stylizer };
export const TFJS_VERSION = '4.22.0';

export function mountAll(scope = document) {
  const out = [];
  for (const root of scope.querySelectorAll('.stylizer[data-model]')) {
    if (root.stylizer) continue;
    const vendorUrl = new URL(root.dataset.tfjs || `../vendor/tfjs-${TFJS_VERSION}/`, import.meta.url).href;
    const samplesBase = new URL(root.dataset.samples || '../samples/', import.meta.url);
    root.stylizer = new Stylizer(root, { vendorUrl, samplesBase }).mount();
    out.push(root.stylizer);
  }
  return out;
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => mountAll());
else mountAll();
