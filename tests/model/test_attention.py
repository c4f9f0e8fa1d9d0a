"""The attention explorer's weights: PyTorch's SANet.attention is the softmax its forward pass uses; TensorFlow's
query and key maps (the transform graph's extra outputs) give the same rows; and the page's own code
(static/stylizer/sanet.js + attention.js, in Node with TF.js wasm) computes rows of the exported model equal to
PyTorch's on the same sample images and settings, resizing and padding included: max abs difference <= 1e-3,
each row summing to 1. For the shipped 8-bit export the rows match TensorFlow on the weights it stores (the
dequantized model) to the same bound, and the figure against float32 PyTorch is printed."""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch

from model.architecture import STYLE_MAX_RESOLUTION, fit_long_side
from model.export import ATTENTION, DOWNLOAD_BUDGET_BYTES, GRAPHS, _Graphs, export_tfjs, per_channel_model
from model.images import read_image
from model.pipeline import fit_within
from model.sanet_tf import from_torch
from model.sanet_torch import SANet, SANetModel, Transform, reflect_pad_to_multiple
from model.weights import load_checkpoint, random_init_

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "static" / "model"
SAMPLES = ROOT / "static" / "samples"
RUNNER = Path(__file__).with_name("attention_rows.mjs")
TOL = 1e-3
# Cases: (content sample, style sample, options). Both resize: the 384x255 photo to 320 px (212x320, padded to
# 224x320: a strip of reflection on the bottom), the 384x256 style within 320 px (213x320, padded likewise);
# the second case runs two iterations at strength 0.6 (the explorer shows the last iteration's T(c, s)).
CASES = {
    "one_iteration": ("chelsea.jpg", "coffee.jpg", {"iterations": 1, "resolution": 320, "alpha": 1.0}),
    "two_iterations_alpha": ("astronaut.jpg", "chelsea.jpg", {"iterations": 2, "resolution": 256, "alpha": 0.6}),
}


def positions(height: int, width: int) -> list[dict]:
    """Points of the output picture for both levels: corners (the last one next to the padding) and the middle."""
    pts = [(3, 2), (width // 2, height // 2), (width - 1, height - 1), (width // 3, 2 * height // 3)]
    return [{"level": level, "x": x, "y": y} for level in ATTENTION["levels"] for x, y in pts]


def torch_image(path: Path) -> torch.Tensor:
    return torch.from_numpy(read_image(path)).permute(2, 0, 1)[None]


def padded_inputs(content: torch.Tensor, style: torch.Tensor, options: dict):
    """The page's sizes (sizes.js planSizes): output long side = resolution (here always a reduction, so the
    pipeline's fit_within agrees), styles within min(512, resolution); all reflection-padded to multiples of 16."""
    res = options["resolution"]
    assert max(content.shape[-2:]) > res, "these cases only reduce the photo, as pipeline.fit_within does"
    small = fit_within(content, res)
    assert tuple(small.shape[-2:]) == fit_long_side(*content.shape[-2:], res)
    limit = min(STYLE_MAX_RESOLUTION, res)
    padded, size = reflect_pad_to_multiple(small)
    style_padded, style_size = reflect_pad_to_multiple(fit_within(style, limit))
    cas = reflect_pad_to_multiple(fit_within(content, limit))[0] if options["alpha"] < 1 else None
    return padded, size, style_padded, style_size, cas


@torch.no_grad()
def torch_rows(model: SANetModel, content, style, options: dict, cells: list[dict]) -> list[np.ndarray]:
    """PyTorch's rows at `cells` (result.json's rows: level and row-major index): SANetModel.attention_padded,
    the last iteration's content against the style."""
    padded, _, style_padded, _, cas = padded_inputs(content, style, options)
    maps = model.attention_padded(padded, style_padded, options["iterations"], options["alpha"], cas)
    return [maps[c["level"]][0, c["index"]].double().numpy() for c in cells]


def tf_rows(tf_model, content, style, options: dict, cells: list[dict]) -> list[np.ndarray]:
    """The same rows in TensorFlow, from the query and key maps the transform returns (what the export ships)."""
    padded, _, style_padded, _, cas = padded_inputs(content, style, options)
    nhwc = lambda t: tf.constant(t.permute(0, 2, 3, 1).numpy()) if t is not None else None  # noqa: E731
    x, s = nhwc(padded), nhwc(style_padded)
    if options["iterations"] > 1:
        x = tf_model.stylize_padded(x, s, options["iterations"] - 1, options["alpha"], nhwc(cas))
    c4, c5 = tf_model.encode_for_transform(x)
    s4, s5 = tf_model.encode_for_transform(s)
    _, maps = tf_model.transform.with_attention(c4, s4, c5, s5)
    out = []
    for c in cells:
        level = ATTENTION["levels"][c["level"]]
        q = maps[level["query"]].numpy().reshape(-1, 512)[c["index"]].astype(np.float64)
        k = maps[level["key"]].numpy().reshape(-1, 512).astype(np.float64)
        logits = k @ q
        e = np.exp(logits - logits.max())
        out.append(e / e.sum())
    return out


def run_rows(model_dir: Path, case: str, points=positions) -> tuple[dict, list[np.ndarray]]:
    """The page's rows for CASES[case] at points(height, width) of the output (tests/model/attention_rows.mjs)."""
    content_file, style_file, options = CASES[case]
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        spec = {"options": options}
        for name, file in (("content", content_file), ("style", style_file)):
            rgb = read_image(SAMPLES / file)
            np.ascontiguousarray(rgb, "<f4").tofile(d / f"{name}.bin")
            spec[name] = {"file": f"{name}.bin", "shape": list(rgb.shape)}
        h, w = fit_long_side(*read_image(SAMPLES / content_file).shape[:2], options["resolution"])
        spec["positions"] = points(h, w)
        (d / "case.json").write_text(json.dumps(spec))
        proc = subprocess.run(["node", str(RUNNER), str(model_dir), str(d)], cwd=ROOT, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads((d / "result.json").read_text())
        flat = np.fromfile(d / "rows.bin", "<f4")
    rows, off = [], 0
    for r in result["rows"]:
        rows.append(flat[off:off + r["n"]].astype(np.float64))
        off += r["n"]
    return result, rows


# --------------------------------------------------------------------------------------------- the modules

def test_attention_is_the_softmax_the_forward_pass_uses():
    """SANet.attention's rows sum to 1 and, put back into the module's formula, give its forward output (plain
    and fused paths alike): the explorer shows the weights the network really uses."""
    torch.manual_seed(0)
    sanet = SANet(64).eval()
    for conv in (sanet.f, sanet.g):
        torch.nn.init.normal_(conv.weight, std=0.3)
    content, style = torch.randn(1, 64, 5, 7), torch.randn(1, 64, 6, 4) * 2 + 1
    with torch.no_grad():
        a = sanet.attention(content, style)                                   # (1, 35, 24)
        assert a.shape == (1, 35, 24)
        assert torch.allclose(a.sum(-1), torch.ones(1, 35), atol=1e-6)
        assert a.max() > 0.2 and a.min() < 0.01                              # peaked rows, not uniform
        v = sanet.h(style).flatten(2)
        by_hand = sanet.out_conv(torch.bmm(v, a.transpose(1, 2)).reshape(1, 64, 5, 7)) + content
        assert torch.allclose(sanet(content, style), by_hand, atol=1e-5)
        sanet.sdpa = True
        assert torch.allclose(sanet(content, style), by_hand, atol=1e-5)
        t = Transform(64).eval()
        maps = t.attention(content, style, content[:, :, :3, :4], style[:, :, :3, :2])
        assert maps["relu4_1"].shape == (1, 35, 24) and maps["relu5_1"].shape == (1, 12, 6)


def test_tensorflow_query_and_key_maps_give_pytorchs_rows():
    """The transform's extra outputs (query and key maps, NHWC) give PyTorch's attention rows, and t is the
    transform's own output: the export returns both from one graph."""
    torch_model = SANetModel("vgg16").eval()
    random_init_(torch_model, seed=3)
    with torch.no_grad():   # He-normal f and g make one-hot rows on random features; softer rows test more
        for sanet in (torch_model.transform.sanet4_1, torch_model.transform.sanet5_1):
            sanet.f.weight.mul_(0.1)
            sanet.g.weight.mul_(0.1)
    tf_model = from_torch(torch_model)
    gen = np.random.default_rng(0)
    c4, s4 = gen.normal(size=(1, 6, 10, 512)).astype(np.float32), gen.normal(size=(1, 4, 5, 512)).astype(np.float32)
    c5, s5 = gen.normal(size=(1, 3, 5, 512)).astype(np.float32), gen.normal(size=(1, 2, 3, 512)).astype(np.float32)
    nchw = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2)  # noqa: E731
    with torch.no_grad():
        ref = torch_model.transform.attention(*map(nchw, (c4, s4, c5, s5)))
        ref_t = torch_model.transform(*map(nchw, (c4, s4, c5, s5))).permute(0, 2, 3, 1).numpy()
    out = _Graphs(tf_model).transform(*map(tf.constant, (c4, s4, c5, s5)))
    assert sorted(out) == sorted(GRAPHS["transform"][1])
    np.testing.assert_allclose(out["t"].numpy(), ref_t, rtol=0, atol=1e-4 * np.abs(ref_t).max())
    assert out["q4"].shape == (1, 6, 10, 512) and out["k4"].shape == (1, 4, 5, 512) and out["k5"].shape == (1, 2, 3, 512)
    for level, spec in ATTENTION["levels"].items():
        q = out[spec["query"]].numpy().reshape(-1, 512).astype(np.float64)
        k = out[spec["key"]].numpy().reshape(-1, 512).astype(np.float64)
        logits = q @ k.T
        rows = np.exp(logits - logits.max(1, keepdims=True))
        rows /= rows.sum(1, keepdims=True)
        ref_rows = ref[level][0].double().numpy()
        assert 0.05 < ref_rows.max() < 0.99                                   # neither flat nor one-hot
        np.testing.assert_allclose(rows, ref_rows, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------------------------- the page's rows

def shipped_checkpoint() -> Path:
    """The checkpoint static/model was exported from (the sha256 its manifest names): any encoder."""
    want = json.loads((SHIPPED / "manifest.json").read_text())["weights"]["sha256"]
    for path in sorted((ROOT / "model" / "checkpoints").glob("*.safetensors")):
        if hashlib.sha256(path.read_bytes()).hexdigest() == want:
            return path
    raise AssertionError(f"no checkpoint in model/checkpoints has sha256 {want[:12]}..., which static/model names")


@pytest.fixture(scope="module")
def shipped_weights():
    model, _ = load_checkpoint(shipped_checkpoint())
    return model.eval()


@pytest.fixture(scope="module")
def float32_export(shipped_weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("float32")
    export_tfjs(from_torch(shipped_weights), out, name="test", trained=True, description="float32 copy of the shipped weights")
    return out


def images(case: str):
    content_file, style_file, options = CASES[case]
    return torch_image(SAMPLES / content_file), torch_image(SAMPLES / style_file), options


@pytest.mark.parametrize("case", CASES)
def test_page_rows_match_pytorch_with_the_float32_export(case, shipped_weights, float32_export):
    result, rows = run_rows(float32_export, case)
    content, style, options = images(case)
    refs = torch_rows(shipped_weights, content, style, options, result["rows"])
    desc = result["desc"]
    _, (h, w), _, (sh, sw), _ = padded_inputs(content, style, options)
    assert desc["output"] == [h, w] and desc["style"] == [sh, sw]
    assert desc["padded"] == [-(-h // 16) * 16, -(-w // 16) * 16]
    worst = 0.0
    for meta, row, ref in zip(result["rows"], rows, refs):
        level = desc["levels"][meta["level"]]
        assert row.shape == ref.shape == (level["styleGrid"][0] * level["styleGrid"][1],)
        assert abs(row.sum() - 1) < 1e-4 and abs(meta["sum"] - 1) < 1e-4, meta
        worst = max(worst, float(np.abs(row - ref).max()))
        assert np.abs(row - ref).max() <= TOL, (meta, np.abs(row - ref).max())
        assert ref.max() > 2.0 / len(ref)                                  # a row with a preference, not flat
    # the corner next to the padding lands on the last visible cell of the padded grid
    corner = [m for m in result["rows"] if m["x"] == w - 1 and m["level"] == "relu4_1"][0]
    assert (corner["row"], corner["col"]) == ((h - 1) // 8, (w - 1) // 8)
    print(f"{case}: float32 export vs PyTorch, max abs difference over {len(rows)} rows: {worst:.2e}")


def test_shipped_8bit_rows_match_its_tensorflow_model(shipped_weights):
    """The shipped export's rows against TensorFlow on the weights it stores (export.per_channel_model): the
    explorer computes what the served model computes. Its distance from float32 PyTorch is what the 8-bit
    weights do to the attention, a property of the weights rather than of the code: printed, over every
    position of the first case at relu4_1 too (README, Stylizer widget)."""
    manifest = json.loads((SHIPPED / "manifest.json").read_text())
    assert manifest["attention"] == ATTENTION and manifest["graphs"]["transform"]["outputs"] == GRAPHS["transform"][1]
    assert manifest["total_bytes"] <= DOWNLOAD_BUDGET_BYTES
    dequantized = per_channel_model(from_torch(shipped_weights))
    for case in CASES:
        result, rows = run_rows(SHIPPED, case)
        content, style, options = images(case)
        exact = tf_rows(dequantized, content, style, options, result["rows"])
        float_refs = torch_rows(shipped_weights, content, style, options, result["rows"])
        vs_tf = max(float(np.abs(r - e).max()) for r, e in zip(rows, exact))
        vs_float = max(float(np.abs(r - f).max()) for r, f in zip(rows, float_refs))
        tops = np.mean([np.argmax(r) == np.argmax(f) for r, f in zip(rows, float_refs)])
        print(f"{case}: 8-bit export vs its TensorFlow model {vs_tf:.2e}; vs float32 PyTorch {vs_float:.2e} "
              f"(same strongest cell in {tops:.0%} of {len(rows)} rows)")
        assert all(abs(r.sum() - 1) < 1e-4 for r in rows)
        assert vs_tf <= TOL, vs_tf
    # every relu4_1 cell of the first case's photo
    every = lambda h, w: [{"level": "relu4_1", "x": min(x + 4, w - 1), "y": min(y + 4, h - 1)}  # noqa: E731
                          for y in range(0, h, 8) for x in range(0, w, 8)]
    result, rows = run_rows(SHIPPED, "one_iteration", every)
    content, style, options = images("one_iteration")
    refs = torch_rows(shipped_weights, content, style, options, result["rows"])
    diff = np.array([np.abs(r - f).max() for r, f in zip(rows, refs)])
    same = np.mean([np.argmax(r) == np.argmax(f) for r, f in zip(rows, refs)])
    print(f"one_iteration, all {len(rows)} relu4_1 positions: 8-bit export vs float32 PyTorch, max abs difference "
          f"median {np.median(diff):.2e}, 90th percentile {np.quantile(diff, 0.9):.2e}, max {diff.max():.2e}; "
          f"same strongest cell in {same:.1%}")
    assert len(rows) == len({m["index"] for m in result["rows"]}) == (-(-212 // 8)) * 40
    assert all(abs(r.sum() - 1) < 1e-4 for r in rows)
