"""Export to TensorFlow.js: three graph models (encoder, transform, decoder) and a manifest.json entry point.

Three graphs rather than one let the page encode the style once, loop the iterations in JavaScript with a
progress bar, and blend by alpha itself; the transform also returns the attention's query and key maps (the
manifest's `attention`), from which the page's attention explorer computes rows. Layout:
    OUT/manifest.json                          the fixed URL the page loads; all paths in it are relative to it
    OUT/<version>/{encoder,transform,decoder}/model.json + weight shards
<version> is a hash of every exported file, so it changes whenever any weight changes; older version
directories are removed on export.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

from .architecture import (ATTENTION_STRIDES, DEFAULT_ENCODER, FEATURES, MIN_SIDE, SIZE_MULTIPLE, STYLE_MAX_RESOLUTION,
                           decoder_layers, encoder_layers)
from .sanet_tf import Conv, SANetTF

MANIFEST_FORMAT = 1
GRAPHS = {
    # name: (ordered input names, ordered output names)
    "encoder": (["image"], ["relu4_1", "relu5_1"]),
    "transform": (["c4", "s4", "c5", "s5"], ["t", "q4", "k4", "q5", "k5"]),
    "decoder": (["t"], ["image"]),
}
# The attention explorer's inputs: the transform also returns each module's query map f(mvn(Fc)) and key map
# g(mvn(Fs)) (NHWC, computed for t anyway; `t` stays its first output, and asking TF.js for `t` alone computes
# nothing more). The page takes one row, softmax_j(q_i . k_j), on demand. No extra weights: a graph of its own
# would need a copy of f and g (1 MB at 8 bits), more than VGG-19's export has left under the budget.
ATTENTION = {
    "graph": "transform",
    "levels": {tap: {"query": f"q{tap[4]}", "key": f"k{tap[4]}", "stride": stride}
               for tap, stride in ATTENTION_STRIDES.items()},
}
QUANTIZATIONS = (None, "float16", "uint8", "mixed", "uint8-per-channel")
DOWNLOAD_BUDGET_BYTES = 24_000_000   # what the shipped export may weigh (VGG-19 in uint8-per-channel: ~23 MB)
# "mixed": uint8 everywhere except the layers nearest the pixels, whose errors show most directly: the encoder's
# input transform and first block, and the decoder's last two convs. Patterns match TF.js weight names.
TAP_SCALES = ["*/relu*_scale/*"]
MIXED_FLOAT16_ENCODER = ("input", "conv1_1", "conv1_2")
MIXED_FLOAT16_DECODER_LAST = 2
# "uint8-per-channel": 8 bits per weight with fine-grained affine ranges, dequantized inside the graph
# (Dequantize, below): the transform's and decoder's kernels get a scale and minimum per output channel; the
# encoder's, whose errors the attention amplifies most, one per output channel, kernel tap and run of
# PER_CHANNEL_GROUP input channels (PER_CHANNEL_FINE_GROUP on the relu5_1 path, the convs after conv4_1: the
# attention at relu5_1 has the fewest positions, so a flipped choice there costs most; measured with
# bench/quantization_sensitivity.py on VGG-16, 0.44 MB); its four smallest 3x3 kernels (conv1_2 to conv3_1: 0.55M
# weights, whose errors every later layer carries) are float16. The codes are the only uint8 weights (stored
# exactly); scales, minima and the float16 kernels are float16; biases, the tap scales and kernels under
# PER_CHANNEL_MIN_SIZE elements (the input transform, conv1_1, the decoder's last conv) stay float32.
PER_CHANNEL_MIN_SIZE = 4096
PER_CHANNEL_GROUP = 64
PER_CHANNEL_FINE_GROUP = 32
PER_CHANNEL_FLOAT16 = ("conv1_2", "conv2_1", "conv2_2", "conv3_1")
PER_CHANNEL_CODES = ["*/dequantize/codes/*"]
PER_CHANNEL_PARAMS = ["*/dequantize/kernel_scale/*", "*/dequantize/kernel_min/*"]


class ExportError(RuntimeError):
    pass


def encoder_keys(encoder: str, names: tuple[str, ...]) -> tuple[str, ...]:
    """The `SANetTF.named_convs` keys of the encoder convs called `names` (conv4_2 -> 'encoder.29' in VGG-16,
    'encoder.30' in VGG-19); every name must exist."""
    keys = {l.name: f"encoder.{l.index}" for l in encoder_layers(encoder) if l.kind in ("conv1x1", "conv")}
    missing = [n for n in names if n not in keys]
    if missing:
        raise ExportError(f"the {encoder} encoder has no {', '.join(missing)}")
    return tuple(keys[n] for n in names)


def relu5_1_path(encoder: str) -> tuple[str, ...]:
    """The encoder convs after conv4_1, up to conv5_1 (conv4_2, conv4_3[, conv4_4], conv5_1): the finer groups."""
    convs = [l.name for l in encoder_layers(encoder) if l.kind == "conv"]
    return tuple(convs[convs.index("conv4_1") + 1:])


def mixed_float16_patterns(encoder: str) -> list[str]:
    """TF.js weight-name patterns (the convs' op scopes, 'encoder.5' -> '*/encoder_5/*') of what "mixed" keeps
    in float16."""
    decoder = [f"decoder.{l.index}" for l in decoder_layers() if l.kind == "conv"][-MIXED_FLOAT16_DECODER_LAST:]
    return [f"*/{key.replace('.', '_')}/*" for key in encoder_keys(encoder, MIXED_FLOAT16_ENCODER) + tuple(decoder)]


class _Graphs(tf.Module):
    """The three functions the page runs, with the names it uses for inputs and outputs."""

    def __init__(self, model: SANetTF):
        super().__init__()
        self.model = model
        feat = tf.TensorSpec([1, None, None, FEATURES], tf.float32)
        self.encoder = tf.function(self._encoder, input_signature=[
            tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
        self.transform = tf.function(self._transform, input_signature=[
            tf.TensorSpec(feat.shape, feat.dtype, name=n) for n in GRAPHS["transform"][0]])
        self.decoder = tf.function(self._decoder, input_signature=[
            tf.TensorSpec(feat.shape, feat.dtype, name="t")])

    def _encoder(self, image):
        c4, c5 = self.model.encode_for_transform(image)
        return {"relu4_1": c4, "relu5_1": c5}

    def _transform(self, c4, s4, c5, s5):
        t, maps = self.model.transform.with_attention(c4, s4, c5, s5)
        return {"t": t, **maps}

    def _decoder(self, t):
        return {"image": tf.clip_by_value(self.model.decoder(t), 0.0, 1.0)}


class Dequantize(tf.Module):
    """A conv kernel as 8-bit codes and an affine map per group, dequantized inside the graph:
    kernel = codes * kernel_scale + kernel_min (set as `Conv.dequantize`; the export's uint8-per-channel form).

    group None: one scale and minimum per output channel. group b: one per output channel, kernel tap and run
    of b input channels (b weights each). Scales and minima are rounded to float16 (minimum down, scale up, so
    every code stays in 0..255) and the codes computed from the rounded values: the TF.js export stores them as
    float16 and the codes as uint8 exactly (its per-tensor range is [0, 255], step 1), so a model holding these
    computes what the exported graph computes.
    """

    def __init__(self, conv: Conv, group: int | None = None):
        super().__init__(name=None)
        w = conv.kernel.numpy().astype(np.float64)
        h, wd, cin, cout = w.shape
        if group:
            size = min(group, cin)
            if cin % size:
                raise ExportError(f"{conv.key}: {cin} input channels are not a multiple of {size}")
            w, axes = w.reshape(h, wd, cin // size, size, cout), (3,)
        else:
            axes = (0, 1, 2)
        lo, hi = w.min(axes, keepdims=True), w.max(axes, keepdims=True)
        lo = _float16_toward(lo, -np.inf)
        step = _float16_toward(np.where(hi > lo, (hi - lo) / 255.0, 1.0), np.inf)
        codes = np.clip(np.round((w - lo) / step), 0, 255)
        self.shape = conv.kernel.shape
        self.codes = tf.Variable(codes.astype(np.float32), trainable=False, name=f"{conv.key}.codes")
        self.kernel_scale = tf.Variable(step.astype(np.float32), trainable=False, name=f"{conv.key}.kernel_scale")
        self.kernel_min = tf.Variable(lo.astype(np.float32), trainable=False, name=f"{conv.key}.kernel_min")

    def __call__(self) -> tf.Tensor:
        with tf.name_scope("dequantize"):
            # PlaceholderWithDefault is never constant-folded (it could be fed), so the TF.js converter's
            # grappler pass keeps codes, scale and min as three weights instead of folding them back into
            # one float32 kernel; TF.js runs it as a pass-through.
            with tf.name_scope("codes"):
                codes = tf.compat.v1.placeholder_with_default(tf.convert_to_tensor(self.codes), self.codes.shape)
            with tf.name_scope("kernel_scale"):
                scale = tf.convert_to_tensor(self.kernel_scale)
            with tf.name_scope("kernel_min"):
                low = tf.convert_to_tensor(self.kernel_min)
            kernel = codes * scale + low
            if self.codes.shape.rank != 4:
                kernel = tf.reshape(kernel, self.shape)
            return kernel


def _float16_toward(x: np.ndarray, direction: float) -> np.ndarray:
    """x rounded to a float16 value, on the side of `direction` (-inf: at most x, +inf: at least x)."""
    h = x.astype(np.float16)
    wrong = h.astype(np.float64) > x if direction < 0 else h.astype(np.float64) < x
    return np.where(wrong, np.nextafter(h, np.float16(direction)), h).astype(np.float64)


def per_channel_model(model: SANetTF, float16: tuple[str, ...] | None = None,
                      float32: tuple[str, ...] = ()) -> SANetTF:
    """A copy of `model` whose large kernels are per-output-channel 8-bit codes, dequantized in the graph.

    This is exactly the function the uint8-per-channel export computes (its codes are stored losslessly), so
    it is also the TensorFlow reference for that export; `model` is left as it is. `float16` and `float32`
    name kernels (keys as in `SANetTF.named_convs`) held at those precisions instead (default: the shipped
    scheme's float16 kernels and none in float32); bench/quantization_sensitivity.py uses them to find which
    kernels the output is most sensitive to.
    """
    if float16 is None:
        float16 = encoder_keys(model.encoder_name, PER_CHANNEL_FLOAT16)
    fine = encoder_keys(model.encoder_name, relu5_1_path(model.encoder_name))
    copy = SANetTF(model.encoder_name)
    source, target = model.variables, copy.variables
    if [v.shape for v in source] != [v.shape for v in target]:
        raise ExportError("per-channel quantization needs an unquantized SANetTF")
    for src, dst in zip(source, target):
        dst.assign(src)
    for key, conv in copy.named_convs().items():
        if conv.kernel.shape.num_elements() < PER_CHANNEL_MIN_SIZE or key in float32:
            continue
        if key in float16:   # stored as float16: hold exactly what the export stores
            conv.kernel.assign(tf.cast(tf.cast(conv.kernel, tf.float16), tf.float32))
        else:
            conv.dequantize = Dequantize(conv, PER_CHANNEL_FINE_GROUP if key in fine else
                                         PER_CHANNEL_GROUP if key.startswith("encoder.") else None)
    return copy


def quantization_map(quantize: str | None, encoder: str = DEFAULT_ENCODER,
                     float16_kernels: tuple[str, ...] = PER_CHANNEL_FLOAT16) -> dict | None:
    """The converter's quantization_dtype_map for `quantize`; `float16_kernels` names the encoder convs that
    uint8-per-channel stores as float16 (those per_channel_model rounds to float16)."""
    if quantize not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization {quantize!r}; choose one of "
                          f"{', '.join(q for q in QUANTIZATIONS if q)}")
    if quantize is None:
        return None
    if quantize == "float16":
        return {"float16": True}
    if quantize == "uint8-per-channel":   # no fallthrough: everything not named stays float32
        kernels = [f"*/{key.replace('.', '_')}/Conv2D/*" for key in encoder_keys(encoder, float16_kernels)]
        return {"uint8": PER_CHANNEL_CODES, "float16": PER_CHANNEL_PARAMS + kernels}
    # The encoder's per-channel tap scales span ~50x within one vector; one uint8 step per tensor would cost
    # the small ones ~10%, so these two 512-vectors stay float16 (2 KB).
    return {"uint8": True, "float16": TAP_SCALES + (mixed_float16_patterns(encoder) if quantize == "mixed" else [])}


def convert_graphs(model: SANetTF, out_dir: Path, quantize: str | None = None,
                   float16_kernels: tuple[str, ...] = PER_CHANNEL_FLOAT16) -> None:
    """Write out_dir/{encoder,transform,decoder}/model.json + shards via a SavedModel with three signatures."""
    # tensorflowjs imports tensorflow_decision_forests, whose welcome banner imports IPython when stdout is
    # not a terminal (pytest, CI); the variable skips the banner.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
    from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_saved_model

    if quantize == "uint8-per-channel":
        model = per_channel_model(model, encoder_keys(model.encoder_name, float16_kernels))
    graphs = _Graphs(model)
    functions = {name: getattr(graphs, name).get_concrete_function() for name in GRAPHS}
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        tf.saved_model.save(graphs, str(saved), signatures=functions)
        qmap = quantization_map(quantize, model.encoder_name, float16_kernels)
        for name in GRAPHS:
            convert_tf_saved_model(str(saved), str(out_dir / name), signature_def=name,
                                   saved_model_tags="serve", quantization_dtype_map=qmap,
                                   weight_shard_size_bytes=4 * 1024 * 1024)
    for name, (inputs, outputs) in GRAPHS.items():
        _name_signature(out_dir / name / "model.json", functions[name], inputs, outputs)
    if quantize == "uint8-per-channel":
        _check_per_channel(out_dir, model)


def _check_per_channel(out_dir: Path, model: SANetTF) -> None:
    """The converter must have kept the dequantization: one code tensor per 8-bit kernel of `model` (the
    per_channel_model exported), stored as uint8 with step 1 and minimum 0 (so exactly), and no large weight
    left in float32 (a kernel folded back, or a float16 pattern that missed)."""
    quantized = [key for key, conv in model.named_convs().items() if conv.dequantize is not None]
    for name in GRAPHS:
        weights = [w for group in json.loads((out_dir / name / "model.json").read_text())["weightsManifest"]
                   for w in group["weights"]]
        codes = [w for w in weights if (w.get("quantization") or {}).get("dtype") == "uint8"]
        expected = sum(key.startswith(f"{name}.") for key in quantized)
        if len(codes) != expected:
            raise ExportError(f"{name}: {len(codes)} per-channel code tensors in the export, expected {expected} "
                              "(folded by the converter?)")
        for w in codes:
            q = w["quantization"]
            if (q.get("scale"), q.get("min")) != (1.0, 0.0):
                raise ExportError(f"{name}: {w['name']} quantized with scale {q.get('scale')}, min "
                                  f"{q.get('min')}: the codes would not be stored exactly")
        big = [w["name"] for w in weights if not w.get("quantization") and np.prod(w["shape"]) >= PER_CHANNEL_MIN_SIZE]
        if big:
            raise ExportError(f"{name}: float32 weights left as large as a kernel: {big[:3]}")


def _name_signature(model_json: Path, function, inputs: list[str], outputs: list[str]) -> None:
    """Key model.json's signature by our input/output names.

    The converter matches tensors to signature names by dtype and shape, so when several inputs or outputs
    share both (c4/s4/c5/s5; relu4_1/relu5_1) it falls back to raw tensor names ('c4:0', 'Identity_1:0').
    The concrete function tells us exactly which tensor is which, so we key them ourselves and check that
    every name is accounted for.
    """
    spec = json.loads(model_json.read_text())
    signature = spec["signature"]
    by_tensor_in = {f"{n}:0": n for n in inputs}
    # function.outputs lists the tensors of the returned dict in sorted-key order (tf.nest.flatten's)
    order = sorted(outputs)
    if sorted(function.structured_outputs) != order or len(function.outputs) != len(order):
        raise ExportError(f"{model_json}: the traced function returns {sorted(function.structured_outputs)} "
                          f"({len(function.outputs)} tensors), expected {order}")
    by_tensor_out = {t.name: order[i] for i, t in enumerate(function.outputs)}
    new_inputs = {}
    for key, info in signature["inputs"].items():
        name = by_tensor_in.get(info["name"], key)
        if name not in inputs:
            raise ExportError(f"{model_json}: input tensor {info['name']} is none of {inputs}")
        new_inputs[name] = info
    new_outputs = {}
    for key, info in signature["outputs"].items():
        if info["name"] not in by_tensor_out:
            raise ExportError(f"{model_json}: output tensor {info['name']} is none of {outputs}")
        new_outputs[by_tensor_out[info["name"]]] = info
    if sorted(new_inputs) != sorted(inputs) or sorted(new_outputs) != sorted(outputs):
        raise ExportError(f"{model_json}: signature {sorted(new_inputs)} -> {sorted(new_outputs)}, "
                          f"expected {inputs} -> {outputs}")
    spec["signature"] = {"inputs": new_inputs, "outputs": new_outputs}
    model_json.write_text(json.dumps(spec, sort_keys=True))   # the converter's key order varies run to run


def quantization_detail(out_dir: Path) -> dict:
    """Per-graph, per-weight dtype as stored (from each model.json's weightsManifest)."""
    detail = {}
    for name in GRAPHS:
        manifest = json.loads((out_dir / name / "model.json").read_text())["weightsManifest"]
        detail[name] = {w["name"]: (w.get("quantization") or {}).get("dtype", w["dtype"])
                        for group in manifest for w in group["weights"]}
    return detail


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(version: str, prefix: str, digests: dict, model: SANetTF, quantize: str | None, **fields) -> dict:
    """The manifest of graphs whose files (`digests`: path -> (bytes, sha256)) lie under `prefix`."""
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": fields["name"],
        "version": version,
        "trained": fields["trained"],
        "description": fields["description"],
        "encoder": model.encoder_name,
        "size_multiple": SIZE_MULTIPLE,
        "min_side": MIN_SIDE,
        "style_max_resolution": STYLE_MAX_RESOLUTION,
        "input": {"layout": "NHWC", "channels": "RGB", "range": [0, 1]},
        "graphs": {g: {"path": f"{prefix}{g}/model.json", "inputs": i, "outputs": o}
                   for g, (i, o) in GRAPHS.items()},
        "attention": ATTENTION,
        "files": {f"{prefix}{rel}": {"bytes": size, "sha256": digest} for rel, (size, digest) in digests.items()},
        "total_bytes": sum(size for size, _ in digests.values()),
        "quantization": quantize,
        "weights": fields["weights"],
        "parity": fields["parity"],
        "training": fields["training"],
    }
    if quantize == "mixed":
        manifest["quantization_layers"] = fields["detail"]
    elif quantize == "uint8-per-channel":
        float16 = fields["float16_kernels"]
        manifest["quantization_note"] = (
            "8-bit codes dequantized inside the graph (codes * scale + min): a scale and minimum per output "
            f"channel for the transform and decoder, per output channel, kernel tap and {PER_CHANNEL_GROUP} input "
            f"channels for the encoder ({PER_CHANNEL_FINE_GROUP} for {_names(relu5_1_path(model.encoder_name))}); the codes are "
            "TF.js uint8 weights holding the integers 0..255 exactly, scales and minima are float16; "
            + (f"the encoder's {_names(float16)} kernels are float16; " if float16 else "")
            + f"biases, the encoder's tap scales and the small kernels (under {PER_CHANNEL_MIN_SIZE} elements) "
            "are float32")
    elif quantize == "uint8":
        manifest["quantization_note"] = ("uint8 (affine, per tensor) for every weight except the encoder's tap "
                                         "scale vectors, which are float16")
    return manifest


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def export_tfjs(model: SANetTF, out: Path, *, name: str, trained: bool, description: str,
                quantize: str | None = None, parity: dict | None = None, training: dict | None = None,
                weights: dict | None = None, check: Callable[[Path], dict] | None = None,
                float16_kernels: tuple[str, ...] = PER_CHANNEL_FLOAT16) -> dict:
    """Convert, place under out/<version>/, write out/manifest.json, remove older versions; returns the manifest.

    `check(folder)`, if given, runs on the converted graphs before anything is published (the folder holds a
    manifest.json of its own, laid out like out/) and returns figures added to the manifest's `parity`; so
    out/manifest.json is written once, complete, and a failed check leaves `out` as it was. `weights` names
    the checkpoint exported (file and sha256).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=out))
    fields = dict(name=name, trained=trained, description=description, weights=weights, training=training,
                  parity=dict(parity or {}), float16_kernels=float16_kernels)
    try:
        convert_graphs(model, staging, quantize, float16_kernels)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        digests = {p.relative_to(staging).as_posix(): (p.stat().st_size, _sha256(p)) for p in files}
        version = hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:12]
        fields["detail"] = quantization_detail(staging)
        if check is not None:
            trial = staging / "manifest.json"
            trial.write_text(json.dumps(_manifest(version, "", digests, model, quantize, **fields), indent=2))
            fields["parity"].update(check(staging))
            trial.unlink()
        target = out / version
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        target.chmod(0o755)   # mkdtemp made it private; it is served as is
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    manifest = _manifest(version, f"{version}/", digests, model, quantize, **fields)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for old in out.iterdir():   # older exports: version directories holding our three graphs
        if old.is_dir() and old.name != version and (old / "encoder" / "model.json").is_file():
            shutil.rmtree(old)
    return manifest
