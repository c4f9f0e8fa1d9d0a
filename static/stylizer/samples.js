// The sample gallery: files in static/samples/ (made by scripts/make_samples.py; sources and licences in
// static/samples/SOURCES.md). URLs are relative to this module so the widget works under any base path.

export const SAMPLES = {
  content: [
    { file: 'astronaut.jpg', label: 'Astronaut portrait' },
    { file: 'coffee.jpg', label: 'Cup of coffee' },
    { file: 'chelsea.jpg', label: 'Cat' },
  ],
  style: [
    { file: 'starry-night.jpg', label: 'Van Gogh, The Starry Night (1889)' },
    { file: 'cafe-terrace.jpg', label: 'Van Gogh, Café Terrace at Night (1888)' },
    { file: 'night-cafe.jpg', label: 'Van Gogh, The Night Café (1888)' },
    { file: 'church-at-auvers.jpg', label: 'Van Gogh, The Church at Auvers (1890)' },
    { file: 'langlois-bridge.jpg', label: 'Van Gogh, The Langlois Bridge at Arles (1888)' },
    { file: 'harvest.jpg', label: 'Van Gogh, The Harvest (1888)' },
  ],
};

/** Absolute URL of a sample file; `base` is the samples folder (by default ../samples/ beside this bundle). */
export function sampleUrl(file, base = new URL('../samples/', import.meta.url)) {
  return new URL(file, base).href;
}
