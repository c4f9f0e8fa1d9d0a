// Runs the exported TF.js graphs the way the page does, in Node, and writes what they compute.
//
//   node tests/js/tfjs_parity.mjs MODEL_DIR CASE_DIR [wasm|cpu]
//
// MODEL_DIR holds manifest.json (served over a local HTTP server, so paths resolve exactly as in the browser).
// CASE_DIR/case.json: {"content": {"file", "shape"}, "style": {...}, "iterations": n, "alpha": a}, float32
// little-endian NHWC files, content and style already padded to multiples of 16. Writes CASE_DIR/out-*.bin
// and CASE_DIR/result.json (shapes, timings, backend). Exits non-zero with a message on any failure.
import { createServer } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join, resolve, dirname } from "node:path";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

const [modelDir, caseDir, backend = "wasm"] = process.argv.slice(2);
if (!modelDir || !caseDir) {
  console.error("usage: node tfjs_parity.mjs MODEL_DIR CASE_DIR [wasm|cpu]");
  process.exit(2);
}

function serve(root) {
  const server = createServer((req, res) => {
    const path = resolve(root, "." + decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!path.startsWith(resolve(root))) { res.writeHead(403).end(); return; }
    try { res.writeHead(200).end(readFileSync(path)); } catch { res.writeHead(404).end(); }
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

function readTensor(spec) {
  const buf = readFileSync(join(caseDir, spec.file));
  return tf.tensor(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), spec.shape, "float32");
}

async function writeTensor(name, t) {
  const data = await t.data();
  writeFileSync(join(caseDir, `out-${name}.bin`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return t.shape;
}

const require = createRequire(import.meta.url);
if (backend === "wasm") setWasmPaths(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm")) + "/");
await tf.setBackend(backend);
await tf.ready();

const server = await serve(modelDir);
const base = `http://127.0.0.1:${server.address().port}/`;
try {
  const manifest = await (await fetch(base + "manifest.json")).json();
  for (const [file, info] of Object.entries(manifest.files)) {   // what the page downloads is what was exported
    const bytes = Buffer.from(await (await fetch(base + file)).arrayBuffer());
    const digest = createHash("sha256").update(bytes).digest("hex");
    if (bytes.length !== info.bytes || digest !== info.sha256) throw new Error(`${file}: size or sha256 differs from manifest`);
  }
  const graphs = {};
  for (const [name, g] of Object.entries(manifest.graphs)) graphs[name] = { model: await tf.loadGraphModel(base + g.path), ...g };
  const run = (name, inputs) => {   // execute with exactly the manifest's names; returns {outputName: tensor}
    const g = graphs[name];
    const feed = Object.fromEntries(g.inputs.map((n, i) => [n, inputs[i]]));
    const out = g.model.execute(feed, g.outputs);
    return Object.fromEntries(g.outputs.map((n, i) => [n, Array.isArray(out) ? out[i] : out]));
  };
  const spec = JSON.parse(readFileSync(join(caseDir, "case.json"), "utf8"));
  const content = readTensor(spec.content), style = readTensor(spec.style);
  const t0 = performance.now();
  const s = run("encoder", [style]);
  const cs = spec.alpha < 1 ? run("encoder", [content]) : null;
  let x = content, first = null;
  for (let i = 0; i < spec.iterations; i++) {
    const c = run("encoder", [x]);
    let t = run("transform", [c.relu4_1, s.relu4_1, c.relu5_1, s.relu5_1]).t;
    if (cs) t = tf.add(tf.mul(spec.alpha, t), tf.mul(1 - spec.alpha, run("transform", [c.relu4_1, cs.relu4_1, c.relu5_1, cs.relu5_1]).t));
    x = run("decoder", [t]).image;
    if (i === 0) first = { relu4_1: c.relu4_1, relu5_1: c.relu5_1, t };
  }
  await x.data();
  const ms = performance.now() - t0;
  const shapes = {};
  for (const [k, v] of Object.entries(first)) shapes[k] = await writeTensor(k, v);
  shapes.image = await writeTensor("image", x);
  writeFileSync(join(caseDir, "result.json"), JSON.stringify({ backend: tf.getBackend(), ms, shapes, version: manifest.version }));
  console.log(`ok: ${tf.getBackend()} backend, ${ms.toFixed(0)} ms, image ${shapes.image}`);
} catch (err) {
  console.error(`tfjs_parity: ${err.message}`);
  process.exitCode = 1;
} finally {
  server.close();
}
