// The sample gallery: files in static/samples/ (sources and licences in static/samples/SOURCES.md).
// URLs are relative to this module so the widget works under any base path.

export const SAMPLES = {
  content: [
    { file: 'astronaut.jpg', label: 'Astronaut portrait' },
    { file: 'coffee.jpg', label: 'Cup of coffee' },
    { file: 'chelsea.jpg', label: 'Cat' },
  ],
  style: [
    { file: 'swirls.jpg', label: 'Swirling strokes' },
    { file: 'mosaic.jpg', label: 'Stained-glass mosaic' },
    { file: 'hubble.jpg', label: 'Hubble deep field' },
  ],
};

export function sampleUrl(file, base = new URL('../samples/', import.meta.url)) {
  return new URL(file, base).href;
}
