"""TF.js export: the three graphs run in Node (@tensorflow/tfjs, wasm backend) with exactly the manifest's
input/output names and match TensorFlow; the manifest describes the files on disk and is written once, after
the TF.js check; the shipped export is consistent, under budget, labelled as its checkpoint is, and keeps the
quality the README promises (read from the manifest and the benchmark, not from this file)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from bench.quantization import PAIRS, inputs as bench_inputs
from model.cli import EXPORT_CHECK
from model.export import (DOWNLOAD_BUDGET_BYTES, GRAPHS, PER_CHANNEL_MIN_SIZE, Dequantize, ExportError, _Graphs,
                          _name_signature, encoder_keys, export_tfjs, mixed_float16_patterns, per_channel_model,
                          quantization_map, relu5_1_path)
from model.sanet_tf import from_torch
from model.sanet_torch import SANetModel
from model.tfjs_check import compare, pad_nhwc, psnr, run_tfjs, synthetic_image, tf_reference
from model.weights import load_checkpoint, random_init_

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "static" / "model"
CHECKPOINTS = ROOT / "model" / "checkpoints"
MANIFEST_FIELDS = {"format", "name", "version", "trained", "description", "encoder", "size_multiple", "min_side",
                   "style_max_resolution", "input", "graphs", "files", "total_bytes", "quantization", "parity",
                   "training"}
PROMISED_DB = 30.0   # the README: at least 30 dB against float32 on every benchmark pair, one iteration


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


def test_manifest_is_written_once_after_the_check(exported, tmp_path):
    """export_tfjs runs its check on the converted graphs before publishing: the folder checked holds a manifest
    of its own, out/manifest.json is still the previous one during the check, and a failing check leaves the
    previous export as it was."""
    tf_model, _, _ = exported
    out = tmp_path / "out"
    first = export_tfjs(tf_model, out, name="test", trained=False, description="first")
    published = (out / "manifest.json").read_text()
    seen = {}

    def check(folder: Path) -> dict:
        seen["published"] = (out / "manifest.json").read_text()
        seen["trial"] = json.loads((folder / "manifest.json").read_text())
        outputs, _ = run_tfjs(folder, pad_nhwc(synthetic_image(32, 48, 3)), pad_nhwc(synthetic_image(32, 32, 4)))
        return {"checked": {"image_shape": list(outputs["image"].shape)}}

    second = export_tfjs(tf_model, out, name="test", trained=False, description="second", quantize="float16",
                         weights={"file": "x.safetensors", "sha256": "0" * 64}, check=check)
    assert seen["published"] == published                                  # nothing published before the check
    assert seen["trial"]["version"] == second["version"] and seen["trial"]["graphs"]["encoder"]["path"] == \
        "encoder/model.json"
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == second and on_disk["parity"]["checked"] == {"image_shape": [1, 32, 48, 3]}
    assert on_disk["weights"] == {"file": "x.safetensors", "sha256": "0" * 64}
    assert not (out / second["version"] / "manifest.json").exists() and not (out / first["version"]).exists()
    check_manifest_matches_disk(out)

    def failing(folder: Path) -> dict:
        raise RuntimeError("TF.js disagrees")

    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    with pytest.raises(RuntimeError, match="TF.js disagrees"):
        export_tfjs(tf_model, out, name="test", trained=False, description="third", check=failing)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == before   # no staging left either
    assert json.loads((out / "manifest.json").read_text()) == second


def test_signature_naming_refuses_outputs_it_cannot_account_for(exported, tmp_path):
    tf_model, out, first = exported
    model_json = tmp_path / "model.json"
    model_json.write_text((out / first["version"] / "encoder" / "model.json").read_text())
    function = _Graphs(tf_model).encoder.get_concrete_function()
    with pytest.raises(ExportError, match=r"returns \['relu4_1', 'relu5_1'\]"):
        _name_signature(model_json, function, ["image"], ["features", "more"])
    _name_signature(model_json, function, ["image"], ["relu4_1", "relu5_1"])
    signature = json.loads(model_json.read_text())["signature"]
    assert sorted(signature["inputs"]) == ["image"] and sorted(signature["outputs"]) == ["relu4_1", "relu5_1"]


def test_quantization_maps_follow_the_encoder_layout():
    """The 8-bit schemes name convs by role, so VGG-19 (conv3_4, conv4_4 more than VGG-16) gets the same
    scheme: finer groups on the whole relu5_1 path, float16 for the same four small kernels."""
    assert relu5_1_path("vgg16") == ("conv4_2", "conv4_3", "conv5_1")
    assert relu5_1_path("vgg19") == ("conv4_2", "conv4_3", "conv4_4", "conv5_1")
    for encoder in ("vgg16", "vgg19"):
        qmap = quantization_map("uint8-per-channel", encoder)
        assert [p for p in qmap["float16"] if "Conv2D" in p] == [
            "*/encoder_5/Conv2D/*", "*/encoder_9/Conv2D/*", "*/encoder_12/Conv2D/*", "*/encoder_16/Conv2D/*"]
        assert mixed_float16_patterns(encoder) == ["*/encoder_0/*", "*/encoder_2/*", "*/encoder_5/*",
                                                   "*/decoder_25/*", "*/decoder_28/*"]
    with pytest.raises(ExportError, match="no conv9_9"):
        quantization_map("uint8-per-channel", "vgg19", ("conv9_9",))


@pytest.mark.parametrize("encoder", ["vgg16", "vgg19"])
def test_uint8_per_channel_export_matches_its_dequantized_tensorflow_model(exported, tmp_path, encoder):
    """The per-channel export stores 8-bit codes exactly and dequantizes them in the graph: TF.js on it matches
    TensorFlow on the same dequantized weights as closely as the float32 export matches float32 TensorFlow."""
    if encoder == "vgg16":
        tf_model = exported[0]
    else:
        torch_model = SANetModel(encoder).eval()
        random_init_(torch_model, seed=12)
        tf_model = from_torch(torch_model)
    float32_bytes = 4 * sum(v.shape.num_elements() for v in tf_model.variables)
    out = tmp_path / "per-channel"
    manifest = export_tfjs(tf_model, out, name="test", trained=False, description="untrained",
                           quantize="uint8-per-channel")
    check_manifest_matches_disk(out)
    assert manifest["quantization"] == "uint8-per-channel" and "per output channel" in manifest["quantization_note"]
    assert manifest["total_bytes"] < 0.28 * float32_bytes                   # ~1 byte per weight, not 4
    reference_model = per_channel_model(tf_model)
    fine = set(encoder_keys(encoder, relu5_1_path(encoder)))
    quantized = {key: conv.dequantize for key, conv in reference_model.named_convs().items() if conv.dequantize}
    for key, dq in quantized.items():   # encoder groups of 64 input channels, 32 on the relu5_1 path
        assert isinstance(dq, Dequantize)
        if key.startswith("encoder."):
            assert dq.codes.shape[3] == (32 if key in fine else 64), key
    assert fine <= set(quantized) and len(quantized) == {"vgg16": 23, "vgg19": 25}[encoder]
    weights = [w for g in GRAPHS for group in json.loads((out / manifest["version"] / g / "model.json").read_text())[
        "weightsManifest"] for w in group["weights"]]
    codes = [w for w in weights if "/dequantize/codes/" in w["name"]]
    assert len(codes) == len(quantized)                                  # 6 (8) encoder + 9 transform + 8 decoder
    for w in weights:   # the codes (and only they) are uint8, exactly: step 1, minimum 0
        q = w.get("quantization") or {}
        if w in codes:
            assert (q["dtype"], q["scale"], q["min"]) == ("uint8", 1.0, 0.0), w
        else:
            assert q.get("dtype") in (None, "float16"), w
            assert q or np.prod(w["shape"]) < PER_CHANNEL_MIN_SIZE, w     # no kernel folded back to float32
    content = pad_nhwc(synthetic_image(45, 70, 1))
    style = pad_nhwc(synthetic_image(40, 40, 2))
    outputs, _ = run_tfjs(out, content, style, iterations=2, alpha=0.7)
    figures = compare(outputs, tf_reference(reference_model, content, style, iterations=2, alpha=0.7))
    for name in ("relu4_1", "relu5_1", "t", "image"):
        assert figures[f"{name}_max_rel"] < 1e-3, (name, figures)
    # and the quantization itself is mild: the dequantized model stays close to the float32 one
    exact = compare(tf_reference(reference_model, content, style), tf_reference(tf_model, content, style))
    assert exact["relu4_1_max_rel"] < 0.03 and exact["relu5_1_max_rel"] < 0.03, exact


# ---------------------------------------------------------------------------------------------------------
# the shipped export (static/model): whichever checkpoint it was made from

def shipped_checkpoint(manifest: dict) -> Path:
    """The checkpoint the shipped export was made from: the one in model/checkpoints with the sha256 its
    manifest names (`weights`); for a manifest written before that field existed, the one checkpoint whose
    encoder and description it copies."""
    checkpoints = sorted(CHECKPOINTS.glob("*.safetensors"))
    if "weights" in manifest:
        matches = [p for p in checkpoints if hashlib.sha256(p.read_bytes()).hexdigest() == manifest["weights"]["sha256"]]
        assert matches, (f"no checkpoint in {CHECKPOINTS} is {manifest['weights']['file']} (sha256 "
                         f"{manifest['weights']['sha256'][:12]}...), which static/model was exported from")
        return matches[0]
    matches = []
    for path in checkpoints:
        model, meta = load_checkpoint(path)
        if model.encoder_name == manifest["encoder"] and meta.get("description") in manifest["description"]:
            matches.append(path)
    assert len(matches) == 1, f"no single checkpoint matches the shipped manifest: {matches}"
    return matches[0]


@pytest.fixture(scope="module")
def shipped():
    manifest = check_manifest_matches_disk(SHIPPED)
    model, meta = load_checkpoint(shipped_checkpoint(manifest))
    return manifest, meta, from_torch(model)


def test_shipped_export_is_consistent_within_budget_and_labelled_as_its_checkpoint(shipped):
    manifest, meta, tf_model = shipped
    assert manifest["total_bytes"] <= DOWNLOAD_BUDGET_BYTES
    assert manifest["quantization"] == "uint8-per-channel" and manifest["encoder"] == tf_model.encoder_name
    assert manifest["trained"] is bool(meta.get("trained", False))
    assert ("untrained" in manifest["description"].lower()) is not manifest["trained"]
    assert manifest["training"] == meta.get("training")
    versions = [p for p in SHIPPED.iterdir() if p.is_dir()]
    assert [p.name for p in versions] == [manifest["version"]]


def test_shipped_export_keeps_the_figures_its_manifest_records(shipped):
    """TF.js on the shipped graphs against float32 TensorFlow on its checkpoint, on the check the export ran:
    the same figures as the manifest's (a tight bound on relu4_1, which the encoder's 8 bits decide)."""
    manifest, _, tf_model = shipped
    recorded = manifest["parity"]["tfjs_vs_tf"]
    assert recorded["iterations"] == EXPORT_CHECK["iterations"], recorded
    content = pad_nhwc(synthetic_image(*EXPORT_CHECK["content"]))
    style = pad_nhwc(synthetic_image(*EXPORT_CHECK["style"]))
    outputs, _ = run_tfjs(SHIPPED, content, style, iterations=EXPORT_CHECK["iterations"])
    figures = compare(outputs, tf_reference(tf_model, content, style, iterations=EXPORT_CHECK["iterations"]))
    print("shipped export vs its checkpoint:", {k: f"{v:.3g}" for k, v in figures.items() if v is not None})
    assert figures["relu4_1_max_rel"] <= 1.05 * recorded["relu4_1_max_rel"] + 1e-6, (figures, recorded)
    assert figures["relu5_1_max_rel"] <= 1.05 * recorded["relu5_1_max_rel"] + 1e-6, (figures, recorded)
    assert figures["image_psnr_db"] >= recorded["image_psnr_db"] - 0.1, (figures, recorded)
    assert np.isfinite(outputs["image"]).all() and 0 <= outputs["image"].min() and outputs["image"].max() <= 1


def test_shipped_export_keeps_the_readmes_promise_on_the_benchmark_pairs(shipped):
    """At least 30 dB against float32 TensorFlow on every benchmark pair (bench/quantization.py's, at 128 px,
    one iteration); where the manifest carries that bench's figures, these are the same."""
    manifest, _, tf_model = shipped
    measured = []
    for index in PAIRS:
        content, style, _ = bench_inputs(128, index)
        content, style = pad_nhwc(content), pad_nhwc(style)
        outputs, _ = run_tfjs(SHIPPED, content, style, iterations=1)
        measured.append(psnr(outputs["image"], tf_reference(tf_model, content, style)["image"]))
    print("shipped export, image PSNR per benchmark pair (dB):", " ".join(f"{db:.1f}" for db in measured))
    assert min(measured) >= PROMISED_DB, measured
    bench = manifest["parity"].get("quantization_bench")
    if bench and bench.get("size") == 128 and bench.get("iterations") == 1 and "uint8-per-channel" in bench["rows"]:
        recorded = bench["rows"]["uint8-per-channel"].get("image_psnr_db_pairs", [])
        for got, want in zip(measured, recorded):
            assert abs(got - want) < 0.2, (measured, recorded)
