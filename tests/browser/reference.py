"""Python side of the browser parity tests: export a float32 TF.js model and stylize with the Python pipelines.

Both use the same checkpoint, so the widget's output can be compared with Python's for the same inputs:
TensorFlow's serving function (SANetTF.stylize) for one style, the PyTorch pipeline (model.pipeline.stylize,
what `python -m model stylize` runs) for two mixed styles.

python tests/browser/reference.py --out MODEL_DIR --weights CKPT
    [--case NAME CONTENT STYLE STYLE2|- ITERATIONS RESOLUTION ALPHA MIX ...]
writes MODEL_DIR/manifest.json (+ graphs) and MODEL_DIR/../NAME.npy (uint8 H x W x 3) per case.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--case", nargs=8, action="append", default=[],
                    metavar=("NAME", "CONTENT", "STYLE", "STYLE2", "ITERATIONS", "RESOLUTION", "ALPHA", "MIX"))
    a = ap.parse_args()

    import tensorflow as tf
    import torch
    from PIL import Image

    from model.pipeline import stylize as torch_stylize
    from model.sanet_tf import from_torch
    from model.weights import load_checkpoint

    # the float32 export, by the model package's own CLI (the same command that makes static/model)
    subprocess.run([sys.executable, "-m", "model", "export", "--weights", str(a.weights), "--out", str(a.out),
                    "--name", "sanet-parity-float32"], cwd=ROOT, check=True)
    torch_model = load_checkpoint(a.weights)[0].eval()
    tf_model = from_torch(torch_model)
    read = lambda p: np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0  # noqa: E731
    to_torch = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None]  # noqa: E731
    for name, content, style, style2, iterations, resolution, alpha, mix in a.case:
        c, s = read(content), read(style)
        if style2 == "-":
            out = tf_model.stylize(tf.constant(c), tf.constant(s), tf.constant(int(iterations)),
                                   tf.constant(int(resolution)), tf.constant(float(alpha))).numpy()
        else:
            out = torch_stylize(torch_model, to_torch(c), to_torch(s), int(iterations), int(resolution), float(alpha),
                                style2=to_torch(read(style2)), mix=float(mix))[0].permute(1, 2, 0).numpy()
        np.save(a.out.parent / f"{name}.npy", np.round(out * 255).clip(0, 255).astype(np.uint8))


if __name__ == "__main__":
    main()
