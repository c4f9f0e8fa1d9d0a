"""A tiny stand-in for the exported SANet TF.js model: same manifest contract, same graph names and shapes.

Used only while developing the widget (and as a fast model for widget-mechanics tests when asked for);
the parity tests use the real export. Run: python tests/browser/standin_model.py OUT_DIR
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path


def build(out: Path, channels: int = 8, version: str = "standin-1") -> Path:
    import numpy as np
    import tensorflow as tf
    import tensorflowjs as tfjs

    rng = np.random.default_rng(0)
    w_enc = tf.constant(rng.normal(size=(1, 1, 3, channels)).astype("float32"))
    w_dec = tf.constant(rng.normal(size=(1, 1, channels, 3)).astype("float32") * 0.3)

    class Enc(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
        def __call__(self, image):
            x = tf.nn.relu(tf.nn.conv2d(tf.nn.avg_pool2d(image, 8, 8, "VALID"), w_enc, 1, "VALID"))
            return {"relu4_1": x, "relu5_1": tf.nn.avg_pool2d(x, 2, 2, "VALID")}

    class Tr(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None, None, channels], tf.float32, name=n)
                                      for n in ("c4", "s4", "c5", "s5")])
        def __call__(self, c4, s4, c5, s5):
            up = tf.repeat(tf.repeat(c5, 2, axis=1), 2, axis=2)
            t = c4 + 0.5 * up + tf.reduce_mean(s4, axis=[1, 2], keepdims=True) - tf.reduce_mean(s5, axis=[1, 2], keepdims=True)
            return {"t": t}

    class Dec(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, None, None, channels], tf.float32, name="t")])
        def __call__(self, t):
            x = tf.nn.conv2d(t, w_dec, 1, "VALID")
            x = tf.repeat(tf.repeat(x, 8, axis=1), 8, axis=2)
            return {"image": tf.clip_by_value(tf.sigmoid(x), 0.0, 1.0)}

    out.mkdir(parents=True, exist_ok=True)
    graphs = {}
    # tensorflowjs names a dict signature's outputs Identity:0, Identity_1:0, ... in sorted-key order.
    io = {"encoder": (["image"], ["Identity:0", "Identity_1:0"]), "transform": (["c4", "s4", "c5", "s5"], ["Identity:0"]),
          "decoder": (["t"], ["Identity:0"])}
    with tempfile.TemporaryDirectory() as tmp:
        for name, mod in (("encoder", Enc()), ("transform", Tr()), ("decoder", Dec())):
            sm = Path(tmp) / name
            tf.saved_model.save(mod, str(sm), signatures=mod.__call__.get_concrete_function())
            tfjs.converters.convert_tf_saved_model(str(sm), str(out / version / name))
            graphs[name] = {"path": f"{version}/{name}/model.json", "inputs": io[name][0], "outputs": io[name][1]}
    files = {}
    for p in sorted((out / version).rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            files[p.relative_to(out).as_posix()] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "format": 1, "name": "standin", "version": version, "trained": False,
        "description": "Tiny stand-in with random weights for widget development; not SANet.",
        "encoder": "standin", "size_multiple": 16, "min_side": 32, "style_max_resolution": 512,
        "input": {"layout": "NHWC", "channels": "RGB", "range": [0, 1]},
        "graphs": graphs, "files": files, "total_bytes": sum(f["bytes"] for f in files.values()),
        "quantization": "float32", "parity": {}, "training": None,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out / "manifest.json"


if __name__ == "__main__":
    print(build(Path(sys.argv[1])))
