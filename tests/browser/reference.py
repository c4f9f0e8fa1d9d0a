"""Python side of the browser parity test: export a float32 TF.js model and stylize with the TensorFlow model.

Both use the same checkpoint, so the widget's output can be compared with TensorFlow's (SANetTF.stylize, the
serving pipeline) for the same inputs.

python tests/browser/reference.py --out MODEL_DIR --weights CKPT [--case NAME CONTENT STYLE ITER RES ALPHA ...]
writes MODEL_DIR/manifest.json (+ graphs) and MODEL_DIR/../NAME.npy (uint8 H x W x 3) per case.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--case", nargs=6, action="append", default=[],
                    metavar=("NAME", "CONTENT", "STYLE", "ITERATIONS", "RESOLUTION", "ALPHA"))
    a = ap.parse_args()

    import tensorflow as tf
    from PIL import Image

    from model.sanet_tf import from_torch
    from model.weights import load_checkpoint

    import subprocess
    root = Path(__file__).resolve().parents[2]
    # the float32 export, by the model package's own CLI (the same command that makes static/model)
    subprocess.run([sys.executable, "-m", "model", "export", "--weights", str(a.weights), "--out", str(a.out),
                    "--name", "sanet-parity-float32"], cwd=root, check=True)
    model = from_torch(load_checkpoint(a.weights)[0])
    for name, content, style, iterations, resolution, alpha in a.case:
        c = np.asarray(Image.open(content).convert("RGB"), np.float32) / 255.0
        s = np.asarray(Image.open(style).convert("RGB"), np.float32) / 255.0
        out = model.stylize(tf.constant(c), tf.constant(s), tf.constant(int(iterations)),
                            tf.constant(int(resolution)), tf.constant(float(alpha)))
        np.save(a.out.parent / f"{name}.npy", np.round(out.numpy() * 255).clip(0, 255).astype(np.uint8))


if __name__ == "__main__":
    main()
