"""TF.js export: the three graphs run in Node (@tensorflow/tfjs, wasm backend) with exactly the manifest's
input/output names and match TensorFlow; the manifest describes the files on disk; the shipped export is
consistent, under budget and labelled untrained."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from model.export import GRAPHS, PER_CHANNEL_MIN_SIZE, export_tfjs, per_channel_model
from model.sanet_tf import from_torch
from model.sanet_torch import SANetModel
from model.tfjs_check import compare, pad_nhwc, run_tfjs, synthetic_image, tf_reference
from model.weights import load_checkpoint, random_init_

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "static" / "model"
CHECKPOINT = ROOT / "model" / "checkpoints" / "sanet-vgg16-init.safetensors"
MANIFEST_FIELDS = {"format", "name", "version", "trained", "description", "encoder", "size_multiple", "min_side",
                   "style_max_resolution", "input", "graphs", "files", "total_bytes", "quantization", "parity",
                   "training"}


def check_manifest_matches_disk(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    assert MANIFEST_FIELDS <= set(manifest)
    version = manifest["version"]
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / version).rglob("*") if p.is_file())
    assert on_disk == sorted(manifest["files"])
    for rel, info in manifest["files"].items():
        data = (out / rel).read_bytes()
        assert info == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}, rel
    assert manifest["total_bytes"] == sum(f["bytes"] for f in manifest["files"].values())
    for name, (inputs, outputs) in GRAPHS.items():
        graph = manifest["graphs"][name]
        assert graph == {"path": f"{version}/{name}/model.json", "inputs": inputs, "outputs": outputs}
    assert manifest["input"] == {"layout": "NHWC", "channels": "RGB", "range": [0, 1]}
    assert (manifest["size_multiple"], manifest["style_max_resolution"]) == (16, 512)
    return manifest


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch_model = SANetModel("vgg16").eval()
    random_init_(torch_model, seed=11)
    tf_model = from_torch(torch_model)
    out = tmp_path_factory.mktemp("export")
    first = export_tfjs(tf_model, out, name="test", trained=False, description="untrained test weights")
    return tf_model, out, first


def test_tfjs_matches_tensorflow(exported):
    tf_model, out, manifest = exported
    content = pad_nhwc(synthetic_image(45, 70, 1))          # 48x80 after padding
    style = pad_nhwc(synthetic_image(40, 40, 2))
    outputs, info = run_tfjs(out, content, style, iterations=2, alpha=0.7)
    reference = tf_reference(tf_model, content, style, iterations=2, alpha=0.7)
    assert info["backend"] == "wasm" and info["version"] == manifest["version"]
    assert outputs["relu4_1"].shape == (1, 6, 10, 512) and outputs["relu5_1"].shape == (1, 3, 5, 512)
    assert outputs["image"].shape == (1, 48, 80, 3)
    assert reference["image"].std() > 0.01                   # not a constant image
    figures = compare(outputs, reference)
    for name in ("relu4_1", "relu5_1", "t", "image"):
        assert figures[f"{name}_max_rel"] < 1e-3, (name, figures)


def test_manifest_describes_the_export_and_reexport_replaces_it(exported):
    tf_model, out, first = exported
    check_manifest_matches_disk(out)
    assert first["trained"] is False and first["quantization"] is None
    # a different quantization changes the weight files, hence the version; the old version is removed
    second = export_tfjs(tf_model, out, name="test", trained=False, description="untrained", quantize="float16")
    assert second["version"] != first["version"]
    assert not (out / first["version"]).exists() and (out / second["version"]).is_dir()
    check_manifest_matches_disk(out)
    assert second["total_bytes"] < 0.55 * first["total_bytes"]
    dtypes = {w.get("quantization", {}).get("dtype") for g in GRAPHS for group in json.loads(
        (out / second["version"] / g / "model.json").read_text())["weightsManifest"] for w in group["weights"]}
    assert "float16" in dtypes
    # the same weights export to the same bytes, hence the same version (browser caches stay valid)
    third = export_tfjs(tf_model, out, name="test", trained=False, description="untrained test weights")
    assert third["version"] == first["version"] and third["files"] == first["files"]


def test_uint8_per_channel_export_matches_its_dequantized_tensorflow_model(exported, tmp_path):
    """The per-channel export stores 8-bit codes exactly and dequantizes them in the graph: TF.js on it matches
    TensorFlow on the same dequantized weights as closely as the float32 export matches float32 TensorFlow."""
    tf_model, _, first = exported
    out = tmp_path / "per-channel"
    manifest = export_tfjs(tf_model, out, name="test", trained=False, description="untrained",
                           quantize="uint8-per-channel")
    check_manifest_matches_disk(out)
    assert manifest["quantization"] == "uint8-per-channel" and "per output channel" in manifest["quantization_note"]
    assert manifest["total_bytes"] < 0.28 * first["total_bytes"]          # ~1 byte per weight, not 4
    weights = [w for g in GRAPHS for group in json.loads((out / manifest["version"] / g / "model.json").read_text())[
        "weightsManifest"] for w in group["weights"]]
    codes = [w for w in weights if "/dequantize/codes/" in w["name"]]
    assert len(codes) == 23                                               # 6 encoder + 9 transform + 8 decoder
    for w in weights:   # the codes (and only they) are uint8, exactly: step 1, minimum 0
        q = w.get("quantization") or {}
        if w in codes:
            assert (q["dtype"], q["scale"], q["min"]) == ("uint8", 1.0, 0.0), w
        else:
            assert q.get("dtype") in (None, "float16"), w
            assert q or np.prod(w["shape"]) < PER_CHANNEL_MIN_SIZE, w     # no kernel folded back to float32
    reference_model = per_channel_model(tf_model)
    content = pad_nhwc(synthetic_image(45, 70, 1))
    style = pad_nhwc(synthetic_image(40, 40, 2))
    outputs, _ = run_tfjs(out, content, style, iterations=2, alpha=0.7)
    figures = compare(outputs, tf_reference(reference_model, content, style, iterations=2, alpha=0.7))
    for name in ("relu4_1", "relu5_1", "t", "image"):
        assert figures[f"{name}_max_rel"] < 1e-3, (name, figures)
    # and the quantization itself is mild: the dequantized model stays close to the float32 one
    exact = compare(tf_reference(reference_model, content, style), tf_reference(tf_model, content, style))
    assert exact["relu4_1_max_rel"] < 0.03 and exact["relu5_1_max_rel"] < 0.03, exact


def test_shipped_export_is_consistent_small_and_untrained():
    manifest = check_manifest_matches_disk(SHIPPED)
    assert manifest["total_bytes"] <= 20_000_000
    assert manifest["trained"] is False and "untrained" in manifest["description"].lower()
    assert manifest["training"] is None and manifest["encoder"] == "vgg16"
    versions = [p for p in SHIPPED.iterdir() if p.is_dir()]
    assert [p.name for p in versions] == [manifest["version"]]
    # the export was made from the shipped checkpoint: TF.js on it stays close to TensorFlow on the checkpoint
    model, meta = load_checkpoint(CHECKPOINT)
    assert meta["trained"] is False
    tf_model = from_torch(model)
    content, style = pad_nhwc(synthetic_image(48, 64, 5)), pad_nhwc(synthetic_image(48, 48, 6))
    outputs, _ = run_tfjs(SHIPPED, content, style)
    figures = compare(outputs, tf_reference(tf_model, content, style))
    # uint8 weights (measured: relu4_1 max error 17% of its max, image PSNR 28 dB); other weights give ~100%
    assert figures["relu4_1_max_rel"] < 0.35, figures
    assert figures["image_psnr_db"] > 20, figures
    assert np.isfinite(outputs["image"]).all() and 0 <= outputs["image"].min() and outputs["image"].max() <= 1
