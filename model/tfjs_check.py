"""Run exported TF.js graphs in Node (model/tfjs_parity.mjs) and compare them with TensorFlow.

Used by the export (parity figures for the manifest), the parity test and bench/quantization.py, so all three
measure the same thing: the page's loop (encode style once, iterate encoder -> transform -> decoder, blend by
alpha) in real TF.js against the same loop in TensorFlow.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from .architecture import padded_size
from .sanet_tf import SANetTF

ROOT = Path(__file__).resolve().parent.parent
NODE_SCRIPT = Path(__file__).with_name("tfjs_parity.mjs")
OUTPUTS = ("relu4_1", "relu5_1", "t", "image")


class NodeUnavailable(RuntimeError):
    pass


def synthetic_image(height: int, width: int, seed: int) -> np.ndarray:
    """A deterministic test picture (smooth colour gradients, stripes and a little noise), (1, H, W, 3) in [0,1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = rng.uniform(0, 2 * np.pi, 3)
    freq = rng.uniform(0.05, 0.3, 3)
    channels = [0.5 + 0.35 * np.sin(freq[c] * (x + 0.7 * y) + phase[c]) * (y / height) + 0.15 * (x / width)
                for c in range(3)]
    img = np.stack(channels, -1) + rng.normal(0, 0.03, (height, width, 3))
    return np.clip(img, 0, 1).astype(np.float32)[None]


def pad_nhwc(image: np.ndarray) -> np.ndarray:
    """Reflection-pad (1, H, W, 3) bottom/right to multiples of 16, as the page does before encoding."""
    h, w = image.shape[1:3]
    ph, pw = padded_size(h, w)
    return np.pad(image, [(0, 0), (0, ph - h), (0, pw - w), (0, 0)], mode="reflect")


def tf_reference(model: SANetTF, content: np.ndarray, style: np.ndarray, iterations: int = 1,
                 alpha: float = 1.0) -> dict[str, np.ndarray]:
    """The same loop as the Node script, in TensorFlow: first-iteration features and t, final image."""
    c, s = tf.constant(content), tf.constant(style)
    c4, c5 = model.encode_for_transform(c)
    s4, s5 = model.encode_for_transform(s)
    t = model.transform(c4, s4, c5, s5)
    if alpha < 1.0:
        cs4, cs5 = model.encode_for_transform(c)
        t = alpha * t + (1.0 - alpha) * model.transform(c4, cs4, c5, cs5)
    image = model.stylize_padded(c, s, iterations, alpha, c if alpha < 1.0 else None)
    return {"relu4_1": c4.numpy(), "relu5_1": c5.numpy(), "t": t.numpy(), "image": image.numpy()}


def run_tfjs(model_dir, content: np.ndarray, style: np.ndarray, iterations: int = 1, alpha: float = 1.0,
             backend: str = "wasm", timeout: float = 600) -> tuple[dict[str, np.ndarray], dict]:
    """Run the graphs under model_dir/manifest.json in Node; returns (outputs, result info)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        raise NodeUnavailable("node and node_modules/@tensorflow/tfjs are needed (npm ci)")
    with tempfile.TemporaryDirectory() as case:
        case = Path(case)
        np.ascontiguousarray(content, dtype="<f4").tofile(case / "content.bin")
        np.ascontiguousarray(style, dtype="<f4").tofile(case / "style.bin")
        (case / "case.json").write_text(json.dumps({
            "content": {"file": "content.bin", "shape": list(content.shape)},
            "style": {"file": "style.bin", "shape": list(style.shape)},
            "iterations": iterations, "alpha": alpha}))
        proc = subprocess.run([node, str(NODE_SCRIPT), str(model_dir), str(case), backend], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"tfjs_parity.mjs failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        info = json.loads((case / "result.json").read_text())
        outputs = {k: np.fromfile(case / f"out-{k}.bin", dtype="<f4").reshape(info["shapes"][k]) for k in OUTPUTS}
    return outputs, info


def max_rel(a: np.ndarray, ref: np.ndarray) -> float:
    """max |a - ref| / max |ref|: the error relative to the signal's scale."""
    return float(np.abs(a - ref).max() / max(float(np.abs(ref).max()), 1e-12))


def psnr(a: np.ndarray, ref: np.ndarray) -> float:
    """PSNR in dB of images in [0, 1] (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - ref.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def compare(outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> dict:
    figures = {f"{k}_max_rel": max_rel(outputs[k], reference[k]) for k in OUTPUTS}
    db = psnr(outputs["image"], reference["image"])
    figures["image_psnr_db"] = db if math.isfinite(db) else None   # identical: JSON has no infinity
    return figures
