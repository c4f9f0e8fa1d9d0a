"""PyTorch vs TensorFlow on random weights, both encoders: every stage, and the whole pipeline at odd sizes.

"Relative" error here is max |tf - torch| / max |torch|, i.e. relative to the signal's scale. Weights are
He-normal random (weights.random_init_) so activations neither vanish nor explode and the output image
varies with its inputs; the tests check that it does, so agreement cannot come from a constant output.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch

from model.architecture import TAPS, decoder_layers, encoder_layers
from model.pipeline import stylize
from model.sanet_tf import SANetTF, from_torch, load_torch_weights, save_serving
from model.sanet_torch import SANetModel, reflect_pad_to_multiple
from model.weights import random_init_

TOL = 1e-4


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.fixture(scope="module", params=["vgg16", "vgg19-normalised"])
def models(request):
    encoder = request.param
    torch_model = SANetModel(encoder).eval()
    random_init_(torch_model, seed=7)
    # a normalised encoder, as shipped: random positive per-channel scales folded into the torch weights,
    # kept as tap multipliers in TF (the quantization-friendly form) -- the two must agree
    gen = np.random.default_rng(1)
    torch_model.encoder_scales = {l.name: list(gen.uniform(0.3, 3.0, l.cout))
                                  for l in encoder_layers(encoder) if l.kind == "conv"}
    from model.weights import apply_encoder_scales
    torch_model.encoder.load_state_dict(apply_encoder_scales(torch_model.encoder.state_dict(),
                                                             torch_model.encoder_scales, encoder))
    return torch_model, from_torch(torch_model)


def to_torch(img: np.ndarray) -> torch.Tensor:      # (H, W, 3) -> (1, 3, H, W)
    return torch.from_numpy(img).permute(2, 0, 1)[None]


def image(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (h, w, 3)).astype(np.float32)


def test_every_stage_matches(models):
    torch_model, tf_model = models
    content = image(53, 37, 0)                        # odd size: padded to 64x48 on the way in
    padded, _ = reflect_pad_to_multiple(to_torch(content))
    nhwc = tf.constant(padded.permute(0, 2, 3, 1).numpy())
    with torch.no_grad():
        ref = torch_model.encode(padded)
        ref3 = torch_model.encode(padded, upto="relu3_1")
        ref45 = torch_model.encode_for_transform(padded)
    got = tf_model.encode(nhwc)                       # the same name means the same thing in both frameworks
    assert list(got) == list(ref) == list(TAPS) and list(tf_model.encode(nhwc, upto="relu3_1")) == list(ref3)
    for tap in TAPS:
        assert rel(got[tap].numpy(), ref[tap].permute(0, 2, 3, 1).numpy()) < TOL, tap
    for a, b in zip(tf_model.encode_for_transform(nhwc), ref45):
        assert rel(a.numpy(), b.permute(0, 2, 3, 1).numpy()) < TOL
    style = to_torch(image(48, 64, 1))
    with torch.no_grad():
        s = torch_model.encode(style)
        t_ref = torch_model.transform(ref["relu4_1"], s["relu4_1"], ref["relu5_1"], s["relu5_1"])
        d_ref = torch_model.decoder(t_ref)
    s_tf = tf_model.encoder(tf.constant(style.permute(0, 2, 3, 1).numpy()))
    t_tf = tf_model.transform(got["relu4_1"], s_tf["relu4_1"], got["relu5_1"], s_tf["relu5_1"])
    assert rel(t_tf.numpy(), t_ref.permute(0, 2, 3, 1).numpy()) < TOL
    d_tf = tf_model.decoder(t_tf)
    assert d_tf.shape == (1, 64, 48, 3)
    assert rel(d_tf.numpy(), d_ref.permute(0, 2, 3, 1).numpy()) < TOL


@pytest.mark.parametrize("content_hw, style_hw, iterations, max_resolution, alpha", [
    ((37, 53), (40, 56), 1, 512, 1.0),       # odd sizes, padded and cropped back
    ((300, 200), (200, 300), 2, 512, 0.6),   # non-square, two iterations, alpha blend
    ((300, 200), (90, 120), 1, 160, 1.0),    # content resized to fit 160 and mapped back to 300x200
])
def test_pipeline_matches(models, content_hw, style_hw, iterations, max_resolution, alpha):
    torch_model, tf_model = models
    content, style = image(*content_hw, 2), image(*style_hw, 3)
    ref = stylize(torch_model, to_torch(content), to_torch(style), iterations, max_resolution, alpha)
    ref = ref[0].permute(1, 2, 0).numpy()
    got = tf_model.serve_float(tf.constant(content), tf.constant(style), tf.constant(iterations),
                               tf.constant(max_resolution), tf.constant(alpha))["stylized"].numpy()
    assert got.shape == ref.shape == (*content_hw, 3)
    assert ref.std() > 0.02 and 0.0 < ref.mean() < 1.0            # a real image, not a constant
    assert rel(got, ref) < TOL


def test_stylize_padded_blends_under_the_same_condition(models):
    """alpha < 1 blends in both frameworks, with the content itself as the blend's style unless one is given;
    alpha = 1 never blends, whatever content_as_style holds."""
    torch_model, tf_model = models
    content, style = to_torch(image(48, 64, 10)), to_torch(image(32, 48, 11))
    nhwc = lambda t: tf.constant(t.permute(0, 2, 3, 1).numpy())  # noqa: E731
    with torch.no_grad():
        plain = torch_model.stylize_padded(content, style, 1)
        blended = torch_model.stylize_padded(content, style, 1, 0.1)
        ignored = torch_model.stylize_padded(content, style, 1, 1.0, content_as_style=style)
    assert torch.equal(ignored, plain) and rel(blended, plain) > 5 * TOL   # the blend shows, beyond the tolerance
    tf_blended = tf_model.stylize_padded(nhwc(content), nhwc(style), 1, 0.1).numpy()
    tf_ignored = tf_model.stylize_padded(nhwc(content), nhwc(style), 1, 1.0, nhwc(style)).numpy()
    assert rel(tf_blended, blended.permute(0, 2, 3, 1).numpy()) < TOL
    assert rel(tf_ignored, plain.permute(0, 2, 3, 1).numpy()) < TOL


def test_both_frameworks_build_the_same_layer_lists(models):
    """Encoder and decoder come from one layer list each: same keys and shapes in both, no ReLU after the
    decoder's last conv (its output goes to the clip)."""
    torch_model, tf_model = models
    torch_shapes = {f"{part}.{k}": tuple(v.shape) for part in ("encoder", "decoder")
                    for k, v in getattr(torch_model, part).state_dict().items()}
    tf_shapes = {}
    for key, conv in tf_model.named_convs().items():
        if key.startswith(("encoder.", "decoder.")):
            h, w, cin, cout = conv.kernel.shape
            tf_shapes[f"{key}.weight"], tf_shapes[f"{key}.bias"] = (cout, cin, h, w), (cout,)
    assert tf_shapes == torch_shapes
    layers = decoder_layers()
    assert [l.kind for l in layers][-3:] == ["relu", "pad", "conv"] and layers[-1].cout == 3
    assert [type(m).__name__ for m in torch_model.decoder][-2:] == ["ReflectionPad2d", "Conv2d"]
    assert [l.kind for l in tf_model.decoder.layers] == [l.kind for l in layers]


def test_output_depends_on_the_style(models):
    torch_model, _ = models
    content = to_torch(image(64, 64, 4))
    a = stylize(torch_model, content, to_torch(image(64, 64, 5)))
    b = stylize(torch_model, content, to_torch(image(64, 64, 6)) * 0.5)
    assert float((a - b).abs().max()) > 1e-3


def test_uint8_signature_and_saved_model(tmp_path):
    torch_model = SANetModel("vgg16").eval()
    random_init_(torch_model, seed=2)
    tf_model = from_torch(torch_model)
    content = (image(45, 70, 8) * 255).astype(np.uint8)
    style = (image(50, 50, 9) * 255).astype(np.uint8)
    out = tf_model.serve_uint8(tf.constant(content), tf.constant(style), tf.constant(1), tf.constant(512),
                               tf.constant(1.0))["stylized"]
    assert out.dtype == tf.uint8 and out.shape == (45, 70, 3)
    save_serving(tf_model, tmp_path / "saved")
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    assert set(loaded.signatures) == {"serving_default", "serving_uint8"}
    again = loaded.signatures["serving_uint8"](content=tf.constant(content), style=tf.constant(style),
                                               num_iterations=tf.constant(1), max_resolution=tf.constant(512),
                                               alpha=tf.constant(1.0))["stylized"]
    assert np.array_equal(again.numpy(), out.numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 32 px"):
        tf_model.serve_float(tf.zeros([20, 300, 3]), tf.constant(image(64, 64, 1)), tf.constant(1),
                             tf.constant(512), tf.constant(1.0))


def test_transfer_refuses_missing_extra_and_misshaped_tensors(models):
    torch_model, _ = models
    enc, tr, dec = (torch_model.encoder.state_dict(), torch_model.transform.state_dict(),
                    torch_model.decoder.state_dict())
    fresh = SANetTF(torch_model.encoder_name)
    with pytest.raises(KeyError, match="merge_conv.bias"):
        load_torch_weights(fresh, enc, {k: v for k, v in tr.items() if k != "merge_conv.bias"}, dec)
    with pytest.raises(KeyError, match="no TF variable.*extra.weight"):
        load_torch_weights(fresh, enc, tr, {**dec, "extra.weight": torch.zeros(1)})
    bad = dict(dec)
    bad["28.weight"] = torch.zeros(3, 32, 3, 3)
    with pytest.raises(ValueError, match=r"decoder.28: PyTorch weight \[3, 32, 3, 3\]"):
        load_torch_weights(fresh, enc, tr, bad)
