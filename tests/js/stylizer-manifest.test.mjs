import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { validateManifest, verifyFile, shardPaths, toArtifacts, modelBytes, ManifestError, dirOf } from '../../static/stylizer/manifest.js';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const enc = (s) => new TextEncoder().encode(s);

function manifest(extra = {}) {
  const mj = enc('{"x":1}');
  const bin = new Uint8Array([1, 2, 3, 4]);
  const files = {};
  for (const g of ['encoder', 'transform', 'decoder']) {
    files[`v1/${g}/model.json`] = { bytes: mj.length, sha256: sha(mj) };
    files[`v1/${g}/group1-shard1of1.bin`] = { bytes: 4, sha256: sha(bin) };
  }
  return {
    format: 1, name: 'sanet', version: 'v1', trained: false, size_multiple: 16, min_side: 32, style_max_resolution: 512,
    graphs: {
      encoder: { path: 'v1/encoder/model.json', inputs: ['image'], outputs: ['relu4_1', 'relu5_1'] },
      transform: { path: 'v1/transform/model.json', inputs: ['c4', 's4', 'c5', 's5'], outputs: ['t'] },
      decoder: { path: 'v1/decoder/model.json', inputs: ['t'], outputs: ['image'] },
    },
    files, ...extra,
  };
}

test('a well-formed manifest validates and its bytes add up', () => {
  const m = manifest();
  assert.equal(validateManifest(m), m);
  assert.equal(modelBytes(m), 3 * (7 + 4));
});

test('broken manifests are rejected with the problem named', () => {
  assert.throws(() => validateManifest(manifest({ format: 2 })), /format 2/);
  assert.throws(() => validateManifest(manifest({ version: '' })), /version/);
  const m = manifest();
  delete m.files['v1/decoder/model.json'];
  assert.throws(() => validateManifest(m), /decoder.*not listed/);
  const n = manifest();
  n.graphs.transform.inputs = ['c4', 's4'];
  assert.throws(() => validateManifest(n), /transform.*4 input/);
  const o = manifest();
  o.files['../../etc/passwd'] = { bytes: 1, sha256: 'a'.repeat(64) };
  assert.throws(() => validateManifest(o), ManifestError);
});

test('verifyFile checks size and sha256 with Web Crypto', async () => {
  const m = manifest();
  await verifyFile(m, 'v1/encoder/group1-shard1of1.bin', new Uint8Array([1, 2, 3, 4]).buffer);
  await assert.rejects(verifyFile(m, 'v1/encoder/group1-shard1of1.bin', new Uint8Array([1, 2, 3, 5]).buffer), /sha256/);
  await assert.rejects(verifyFile(m, 'v1/encoder/group1-shard1of1.bin', new Uint8Array([1, 2, 3]).buffer), /3 bytes/);
  await assert.rejects(verifyFile(m, 'v1/other.bin', new Uint8Array(1).buffer), /not in the manifest/);
});

test('shards resolve next to model.json and concatenate in manifest order', () => {
  const mj = {
    modelTopology: { node: [] }, format: 'graph-model', signature: { inputs: {} },
    weightsManifest: [
      { paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'], weights: [{ name: 'a', shape: [2], dtype: 'float32' }] },
      { paths: ['group2-shard1of1.bin'], weights: [{ name: 'b', shape: [1], dtype: 'float32' }] },
    ],
  };
  assert.equal(dirOf('v1/encoder/model.json'), 'v1/encoder/');
  assert.deepEqual(shardPaths('v1/encoder/model.json', mj),
    ['v1/encoder/group1-shard1of2.bin', 'v1/encoder/group1-shard2of2.bin', 'v1/encoder/group2-shard1of1.bin']);
  const art = toArtifacts(mj, [new Uint8Array([1, 2]).buffer, new Uint8Array([3]).buffer, new Uint8Array([4, 5]).buffer]);
  assert.deepEqual([...new Uint8Array(art.weightData)], [1, 2, 3, 4, 5]);
  assert.deepEqual(art.weightSpecs.map((w) => w.name), ['a', 'b']);
  assert.equal(art.modelTopology, mj.modelTopology);
});
