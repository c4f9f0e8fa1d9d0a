"""Quality and size of the quantized TF.js exports: PSNR of each export's output against float32 TensorFlow.

    .venv/bin/python bench/quantization.py [--weights CKPT] [--size 128] [--iterations 1] [--only uint8 ...]
        [--pairs 4] [--float16-encoder] [--time] [--json OUT]

Exports the checkpoint once per option (float32, float16, uint8, mixed, uint8-per-channel), runs each exported graph set in Node with
TF.js (wasm backend) exactly as the page does, and compares with float32 TensorFlow on the same inputs: a real
photo and painting from ../shared/data when present (read only, never copied), else synthetic pictures.
Prints model bytes, image PSNR and the relative error of the features; --json writes the table too.
--float16-encoder adds a row: uint8-per-channel with every encoder kernel in float16 instead of 8 bits.
--time also times a whole stylization at 256 px (bench/tfjs_node.mjs, the page's code in Node wasm) on each
export: median and range of --repeats runs, so the cost of dequantizing in the graph shows against uint8.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from model.architecture import encoder_layers  # noqa: E402
from model.export import PER_CHANNEL_MIN_SIZE, QUANTIZATIONS, export_tfjs  # noqa: E402
from model.images import read_image  # noqa: E402
from model.sanet_tf import from_torch  # noqa: E402
from model.tfjs_check import compare, pad_nhwc, run_tfjs, synthetic_image, tf_reference  # noqa: E402
from model.weights import load_checkpoint  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


PAIRS = (100, 10, 200, 300)   # photo/painting indices (sorted by name); the first is the headline pair


def inputs(size: int, index: int = PAIRS[0]) -> tuple[np.ndarray, np.ndarray, str]:
    import tensorflow as tf

    photos, paintings = DATA / "photos", DATA / "paintings"
    if photos.is_dir() and paintings.is_dir():
        p, s = sorted(photos.iterdir())[index], sorted(paintings.iterdir())[index]
        fit = lambda a: tf.image.resize(a[None], [size, size], preserve_aspect_ratio=True,  # noqa: E731
                                        antialias=True).numpy()
        return fit(read_image(p)), fit(read_image(s)), f"photo {p.name}, painting {s.name} (../shared/data)"
    seed = 1 + 2 * PAIRS.index(index)
    return synthetic_image(size, size * 4 // 3, seed), synthetic_image(size, size, seed + 1), "synthetic pictures"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=str(ROOT / "model" / "checkpoints" / "sanet-vgg16-init.safetensors"))
    parser.add_argument("--size", type=int, default=128, help="long side of the test images")
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--only", nargs="+", choices=["float32"] + [q for q in QUANTIZATIONS if q],
                        help="measure only these options (default: all)")
    parser.add_argument("--pairs", type=int, default=1, choices=range(1, len(PAIRS) + 1),
                        help="also report the image PSNR on this many photo/painting pairs (the untrained "
                             "transform's sharp attention makes one pair's figure hinge on near-ties)")
    parser.add_argument("--float16-encoder", action="store_true",
                        help="also measure uint8-per-channel with the whole encoder in float16")
    parser.add_argument("--time", action="store_true", help="also time a stylization at 256 px in Node wasm")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per export (after one warm-up)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    model, meta = load_checkpoint(args.weights)
    tf_model = from_torch(model)
    cases, sources = [], []
    for index in PAIRS[:args.pairs]:
        c, s, source_i = inputs(args.size, index)
        c, s = pad_nhwc(c), pad_nhwc(s)
        cases.append((c, s, tf_reference(tf_model, c, s, args.iterations)))
        sources.append(source_i)
    source = sources[0]                      # the headline pair's description
    content, style, reference = cases[0]
    options = [(q or "float32", q, {}) for q in QUANTIZATIONS if not args.only or (q or "float32") in args.only]
    if args.float16_encoder:
        kernels = tuple(l.name for l in encoder_layers(model.encoder_name)
                        if l.kind == "conv" and 9 * l.cin * l.cout >= PER_CHANNEL_MIN_SIZE)
        options.append(("per-channel, fp16 encoder", "uint8-per-channel", {"float16_kernels": kernels}))
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, q, extra in options:
            out = Path(tmp) / label.replace(" ", "_").replace(",", "")
            manifest = export_tfjs(tf_model, out, name="bench", trained=False, description="bench", quantize=q,
                                   **extra)
            outputs, info = run_tfjs(out, content, style, iterations=args.iterations)
            rows[label] = {"bytes": manifest["total_bytes"], **compare(outputs, reference),
                           "tfjs_ms": round(info["ms"])}
            if args.pairs > 1:
                rows[label]["image_psnr_db_pairs"] = [
                    compare(run_tfjs(out, c, s, iterations=args.iterations)[0], ref)["image_psnr_db"]
                    for c, s, ref in cases]
            if args.time:
                rows[label]["stylize_256_ms"] = time_stylize(out, 256, args.repeats)
    print(f"weights: {args.weights} ({'trained' if meta.get('trained') else 'UNTRAINED'}); inputs: {source}, "
          f"content {content.shape[1]}x{content.shape[2]} padded, {args.iterations} iteration(s); TF.js wasm vs "
          "float32 TensorFlow")
    print(f"{'export':<26} {'MB':>7} {'image PSNR dB':>14} {'image max err':>14} {'relu4_1 rel':>12} "
          f"{'relu5_1 rel':>12} {'t rel':>10}" + ("  PSNR per pair" if args.pairs > 1 else ""))
    for name, r in rows.items():
        db = "identical" if r["image_psnr_db"] is None else f"{r['image_psnr_db']:.1f}"
        print(f"{name:<26} {r['bytes'] / 1e6:7.2f} {db:>14} {r['image_max_rel']:14.2e} "
              f"{r['relu4_1_max_rel']:12.2e} {r['relu5_1_max_rel']:12.2e} {r['t_max_rel']:10.2e}"
              + ("  " + " ".join("inf" if p is None else f"{p:.1f}" for p in r["image_psnr_db_pairs"])
                 if args.pairs > 1 else ""))
    if args.time:
        print(f"stylize at 256 px, one iteration (bench/tfjs_node.mjs, Node wasm, {args.repeats} runs after a "
              "warm-up): median ms (min-max)")
        for name, r in rows.items():
            t = r["stylize_256_ms"]
            print(f"{name:<26} {t['median']:7.0f} ({t['min']}-{t['max']}), {t['threads']} thread(s)")
    if args.json:
        Path(args.json).write_text(json.dumps({"inputs": source, "pairs": list(PAIRS[:args.pairs]),
                                               "size": args.size, "iterations": args.iterations, "rows": rows},
                                              indent=2))


def time_stylize(model_dir: Path, size: int, repeats: int) -> dict:
    """Whole-stylization times of the export in `model_dir` with the page's code in Node (bench/tfjs_node.mjs)."""
    done = subprocess.run(["node", str(ROOT / "bench" / "tfjs_node.mjs"), str(model_dir), str(size), str(repeats)],
                          cwd=ROOT, capture_output=True, text=True, check=True, timeout=1200)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    runs = result["sizes"][str(size)]["runs_ms"]
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs,
            "threads": result.get("threads")}


if __name__ == "__main__":
    main()
