// static/stylizer/samples.js: the gallery the widget offers is what static/samples/ ships, each file made by
// scripts/make_samples.py, recorded in SOURCES.md, and small enough for the model's style size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { SAMPLES, sampleUrl } from '../../static/stylizer/samples.js';

const DIR = new URL('../../static/samples/', import.meta.url);
const SOURCES = readFileSync(new URL('SOURCES.md', DIR), 'utf8');
const SCRIPT = readFileSync(new URL('../../scripts/make_samples.py', import.meta.url), 'utf8');
const all = [...SAMPLES.content, ...SAMPLES.style];

/** (width, height) of a baseline or progressive JPEG, from its first SOF marker. */
function jpegSize(bytes) {
  assert.equal(bytes[0], 0xff); assert.equal(bytes[1], 0xd8);
  for (let i = 2; i < bytes.length;) {
    assert.equal(bytes[i], 0xff, 'marker expected');
    const marker = bytes[i + 1];
    const length = (bytes[i + 2] << 8) | bytes[i + 3];
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return [(bytes[i + 7] << 8) | bytes[i + 8], (bytes[i + 5] << 8) | bytes[i + 6]];
    }
    i += 2 + length;
  }
  throw new Error('no SOF marker');
}

test('every sample the widget offers ships, is made by the script and has its source recorded', () => {
  assert.ok(SAMPLES.content.length >= 2 && SAMPLES.style.length >= 4);
  for (const { file, label } of all) {
    assert.match(file, /^[a-z0-9-]+\.jpg$/);
    assert.ok(label && label.length > 2, file);
    const [w, h] = jpegSize(readFileSync(new URL(file, DIR)));
    assert.ok(Math.max(w, h) <= 512 && Math.min(w, h) >= 128, `${file} is ${w}x${h}`);
    assert.ok(SOURCES.includes(`| ${file} |`), `${file} has no row in static/samples/SOURCES.md`);
    assert.ok(SCRIPT.includes(`"${file}"`), `scripts/make_samples.py does not make ${file}`);
  }
  assert.equal(new Set(all.map((s) => s.file)).size, all.length, 'a file is offered twice');
  assert.equal(new Set(all.map((s) => s.label)).size, all.length, 'two samples share a label');
});

test('nothing ships that the gallery does not offer', () => {
  const shipped = readdirSync(DIR).filter((f) => f !== 'SOURCES.md').sort();
  assert.deepEqual(shipped, all.map((s) => s.file).sort());
});

test('style samples are paintings with a recorded package and licence statement', () => {
  for (const { file } of SAMPLES.style) {
    const row = SOURCES.split('\n').find((l) => l.startsWith(`| ${file} |`));
    assert.match(row, /`(opencv-doc|gcompris-qt-data)` [0-9][^ |]*/, row);   // package and version
    assert.match(row, /\/usr\/share\//, row);                                // path in the package
    assert.match(row, /License: /, row);                                     // the package's own statement
  }
});

test('sample URLs resolve against the samples folder, under any base path', () => {
  assert.equal(sampleUrl('starry-night.jpg', new URL('https://example.org/repo/samples/')),
    'https://example.org/repo/samples/starry-night.jpg');
  assert.equal(sampleUrl('a b.jpg', new URL('http://127.0.0.1:8000/x/samples/')), 'http://127.0.0.1:8000/x/samples/a%20b.jpg');
  // by default, ../samples/ beside the module's own folder (the built site's stylizer.<hash>/)
  assert.equal(sampleUrl('coffee.jpg'), new URL('../samples/coffee.jpg', new URL('../../static/stylizer/samples.js', import.meta.url)).href);
});
