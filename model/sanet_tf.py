"""SANet in TensorFlow (NHWC): the network we serve and export to TensorFlow.js.

Built from the same layer lists as the PyTorch model (model/architecture.py), with variables named after the
PyTorch state-dict keys so the transfer is an explicit one-to-one mapping. Images are NHWC float RGB in [0,1].
Only ops that TensorFlow.js supports are used (MirrorPad, Conv2D, MaxPool, MatMul, Softmax, ResizeNearest...).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from .architecture import (
    FEATURES,
    MIN_SIDE,
    MVN_EPS,
    SIZE_MULTIPLE,
    STYLE_MAX_RESOLUTION,
    Layer,
    decoder_layers,
    encoder_layers,
    tap_indices,
)


def reflect_pad1(x: tf.Tensor) -> tf.Tensor:
    return tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")


def mean_variance_norm(x: tf.Tensor) -> tf.Tensor:
    """Per-channel (x - mean) / sqrt(unbiased var + eps) over space, as the PyTorch calc_mean_std."""
    n = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
    mean = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    var = tf.reduce_sum(tf.square(x - mean), axis=[1, 2], keepdims=True) / (n - 1.0)
    return (x - mean) / tf.sqrt(var + MVN_EPS)


class Conv(tf.Module):
    """A convolution with HWIO kernel and bias, named after its PyTorch key prefix (e.g. '2' or 'sanet4_1.f').

    `dequantize`, when set (by the export: export.Dequantize), is a module that computes the kernel inside the
    graph from a compact stored form; the `kernel` variable then only gives the shape.
    """

    def __init__(self, key: str, cin: int, cout: int, size: int, scope: str):
        super().__init__(name=None)
        self.key = key
        self.scope = scope   # op name scope, so exported weights read e.g. ".../decoder_25/Conv2D/ReadVariableOp"
        self.kernel = tf.Variable(tf.zeros([size, size, cin, cout]), name=f"{key}.kernel")
        self.bias = tf.Variable(tf.zeros([cout]), name=f"{key}.bias")
        self.dequantize = None

    def weight(self) -> tf.Tensor:
        """The HWIO kernel."""
        return self.kernel if self.dequantize is None else self.dequantize()

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        with tf.name_scope(self.scope):
            return tf.nn.bias_add(tf.nn.conv2d(x, self.weight(), 1, "VALID"), self.bias)


class Layers(tf.Module):
    """An architecture layer list (model/architecture.py) in NHWC, the mirror of sanet_torch.build_layers;
    its convs are keyed by layer index, their op scopes `<scope>_<index>`."""

    def __init__(self, layers: list[Layer], scope: str):
        super().__init__()
        self.layers = layers
        self.convs = {str(l.index): Conv(str(l.index), l.cin, l.cout, l.kernel_size, f"{scope}_{l.index}")
                      for l in layers if l.kind in ("conv1x1", "conv")}

    def apply(self, layer: Layer, x: tf.Tensor) -> tf.Tensor:
        if layer.kind in ("conv1x1", "conv"):
            return self.convs[str(layer.index)](x)
        if layer.kind == "pad":
            return reflect_pad1(x)
        if layer.kind == "relu":
            return tf.nn.relu(x)
        if layer.kind == "pool":   # 2x2 stride 2; SAME pads bottom/right only = PyTorch's ceil_mode
            return tf.nn.max_pool2d(x, 2, 2, "SAME")
        if layer.kind == "up":
            return tf.image.resize(x, 2 * tf.shape(x)[1:3], method="nearest")
        raise ValueError(f"unknown layer kind {layer.kind!r}")


def _tap_channels(encoder: str) -> dict[str, int]:
    convs = {l.name: l.cout for l in encoder_layers(encoder) if l.kind == "conv"}
    return {tap: convs["conv" + tap[4:]] for tap in tap_indices(encoder)}


class Encoder(Layers):
    """VGG to relu5_1 (NHWC); `__call__` returns the taps as a dict."""

    def __init__(self, encoder: str):
        super().__init__(encoder_layers(encoder), "encoder")
        self.encoder_name = encoder
        self.taps = {idx: name for name, idx in tap_indices(encoder).items()}
        # Per-channel scale of each tap (the encoder normalisation, kept out of the conv weights: see
        # weights.unfold_encoder_scales); ones when the encoder is not normalised this way.
        self.tap_scales = {name: tf.Variable(tf.ones([cout]), name=f"{name}.scale")
                           for name, cout in _tap_channels(encoder).items()}

    def __call__(self, x: tf.Tensor, upto: str = "relu5_1") -> dict[str, tf.Tensor]:
        last = tap_indices(self.encoder_name)[upto]
        feats = {}
        for layer in self.layers:
            x = self.apply(layer, x)
            if layer.index in self.taps:
                name = self.taps[layer.index]
                with tf.name_scope(f"{name}_scale"):
                    feats[name] = x * self.tap_scales[name]
            if layer.index == last:
                break
        return feats


class SANet(tf.Module):
    def __init__(self, key: str, channels: int = FEATURES):
        super().__init__()
        self.f = Conv(f"{key}.f", channels, channels, 1, f"{key}_f")
        self.g = Conv(f"{key}.g", channels, channels, 1, f"{key}_g")
        self.h = Conv(f"{key}.h", channels, channels, 1, f"{key}_h")
        self.out_conv = Conv(f"{key}.out_conv", channels, channels, 1, f"{key}_out_conv")

    def __call__(self, content: tf.Tensor, style: tf.Tensor) -> tf.Tensor:
        return self.attend(content, style)[0]

    def attend(self, content: tf.Tensor, style: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(output (B, Hc, Wc, C), query map f(mvn(content)) (B, Hc, Wc, C), key map g(mvn(style)) (B, Hs, Ws, C)):
        the maps are what the page's attention explorer needs (its rows: softmax over the key positions of
        one query's dot products), computed here anyway."""
        b, hc, wc = tf.shape(content)[0], tf.shape(content)[1], tf.shape(content)[2]
        c = content.shape[-1]
        query = self.f(mean_variance_norm(content))                          # (B, Hc, Wc, C)
        key = self.g(mean_variance_norm(style))                              # (B, Hs, Ws, C)
        q = tf.reshape(query, [b, -1, c])                                    # (B, Nc, C)
        k = tf.reshape(key, [b, -1, c])                                      # (B, Ns, C)
        v = tf.reshape(self.h(style), [b, -1, c])                            # (B, Ns, C)
        s = tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)        # (B, Nc, Ns)
        o = tf.matmul(s, v)                                                  # (B, Nc, C)
        # out_conv as the matmul it is: written as a conv, grappler fuses "conv + bias + content" into one
        # conv whose bias is the 4-D content, which TF.js's FusedConv2D rejects.
        with tf.name_scope(self.out_conv.scope):
            o = tf.matmul(o, tf.reshape(self.out_conv.weight(), [c, c])) + self.out_conv.bias
        return tf.reshape(o, [b, hc, wc, c]) + content, query, key           # (B, Hc, Wc, C), ...


class Transform(tf.Module):
    def __init__(self, channels: int = FEATURES):
        super().__init__()
        self.sanet4_1 = SANet("sanet4_1", channels)
        self.sanet5_1 = SANet("sanet5_1", channels)
        self.merge_conv = Conv("merge_conv", channels, channels, 3, "merge_conv")

    def __call__(self, c4, s4, c5, s5) -> tf.Tensor:
        return self.with_attention(c4, s4, c5, s5)[0]

    def with_attention(self, c4, s4, c5, s5) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """(t, {"q4", "k4", "q5", "k5"}): the transform and both modules' query and key maps (SANet.attend)."""
        o4, q4, k4 = self.sanet4_1.attend(c4, s4)                            # (B, H/8, W/8, 512), ...
        o5, q5, k5 = self.sanet5_1.attend(c5, s5)                            # (B, H/16, W/16, 512), ...
        h4, w4 = tf.shape(o4)[1], tf.shape(o4)[2]
        # 2x nearest: with half-pixel centres, output i reads input floor((i + 0.5) / 2) = i // 2.
        o5 = tf.image.resize(o5, 2 * tf.shape(o5)[1:3], method="nearest")[:, :h4, :w4, :]
        return self.merge_conv(reflect_pad1(o4 + o5)), {"q4": q4, "k4": k4, "q5": q5, "k5": k5}


class Decoder(Layers):
    """relu4_1-sized features (B, H/8, W/8, 512) -> image (B, H, W, 3), unclipped."""

    def __init__(self):
        super().__init__(decoder_layers(), "decoder")

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        for layer in self.layers:
            x = self.apply(layer, x)
        return x


def _fit_within(image: tf.Tensor, long_side: tf.Tensor) -> tf.Tensor:
    """Downscale (1, H, W, 3) so its long side is at most `long_side` (same rounding as architecture.fit_long_side)."""
    hw = tf.shape(image)[1:3]
    long = tf.reduce_max(hw)
    scale = tf.cast(long_side, tf.float64) / tf.cast(long, tf.float64)
    size = tf.maximum(1, tf.cast(tf.round(tf.cast(hw, tf.float64) * scale), tf.int32))
    return tf.cond(long > long_side,
                   lambda: tf.image.resize(image, size, method="bilinear", antialias=True),
                   lambda: image)


def _reflect_pad_to_multiple(image: tf.Tensor) -> tf.Tensor:
    hw = tf.shape(image)[1:3]
    pad = (-hw) % SIZE_MULTIPLE
    return tf.pad(image, [[0, 0], [0, pad[0]], [0, pad[1]], [0, 0]], mode="REFLECT")


def _check_side(image: tf.Tensor, what: str):
    return tf.debugging.assert_greater_equal(
        tf.reduce_min(tf.shape(image)[1:3]), MIN_SIDE,
        message=f"{what}: the short side must be at least {MIN_SIDE} px after resizing")


class SANetTF(tf.Module):
    """Encoder + Transform + Decoder, with the stylization pipeline and a serving signature."""

    def __init__(self, encoder: str):
        super().__init__()
        self.encoder_name = encoder
        self.encoder = Encoder(encoder)
        self.transform = Transform()
        self.decoder = Decoder()

    def encode(self, image, upto: str = "relu5_1") -> dict[str, tf.Tensor]:
        """Image (B, H, W, 3) in [0,1] -> {tap: features} for every tap up to `upto` (SANetModel.encode)."""
        return self.encoder(image, upto)

    def encode_for_transform(self, image) -> tuple[tf.Tensor, tf.Tensor]:
        """Image (B, H, W, 3) -> (relu4_1 (B, H/8, W/8, 512), relu5_1 (B, H/16, W/16, 512)): the transform's inputs."""
        f = self.encoder(image)
        return f["relu4_1"], f["relu5_1"]

    def named_convs(self) -> dict[str, Conv]:
        """Every Conv by its PyTorch state-dict prefix: 'encoder.<i>', 'transform.<key>', 'decoder.<i>'."""
        convs = {f"encoder.{c.key}": c for c in self.encoder.convs.values()}
        for sanet in (self.transform.sanet4_1, self.transform.sanet5_1):
            for c in (sanet.f, sanet.g, sanet.h, sanet.out_conv):
                convs[f"transform.{c.key}"] = c
        convs[f"transform.{self.transform.merge_conv.key}"] = self.transform.merge_conv
        convs.update({f"decoder.{c.key}": c for c in self.decoder.convs.values()})
        return convs

    def stylize_padded(self, content, style, num_iterations, alpha=1.0, content_as_style=None):
        """NHWC (1, 16k, 16l, 3) images in [0,1]; mirrors SANetModel.stylize_padded: blends iff alpha < 1
        (an alpha known only when the graph runs counts as < 1: `stylize` calls this with a run-time alpha
        only on its alpha < 1 branch), with the content itself as the blend's style by default."""
        static_alpha = tf.get_static_value(alpha)
        blend = static_alpha is None or static_alpha < 1.0
        s4, s5 = self.encode_for_transform(style)
        if blend:
            cs4, cs5 = self.encode_for_transform(content if content_as_style is None else content_as_style)
        x = content
        for _ in tf.range(num_iterations):
            c4, c5 = self.encode_for_transform(x)
            t = self.transform(c4, s4, c5, s5)
            if blend:
                t = alpha * t + (1.0 - alpha) * self.transform(c4, cs4, c5, cs5)
            x = tf.clip_by_value(self.decoder(t), 0.0, 1.0)
        return x

    def stylize(self, content, style, num_iterations, max_resolution, alpha):
        """content (H, W, 3), style (h, w, 3), float RGB in [0,1] -> (H, W, 3); mirrors pipeline.stylize."""
        content, style = content[None], style[None]
        height, width = tf.shape(content)[1], tf.shape(content)[2]
        style_limit = tf.minimum(STYLE_MAX_RESOLUTION, max_resolution)
        small = _fit_within(content, max_resolution)
        style = _fit_within(style, style_limit)
        checks = [_check_side(small, "content"), _check_side(style, "style")]
        with tf.control_dependencies(checks):
            h, w = tf.shape(small)[1], tf.shape(small)[2]
            padded = _reflect_pad_to_multiple(small)
            style_padded = _reflect_pad_to_multiple(style)

        def blended():
            cas = _fit_within(content, style_limit)
            with tf.control_dependencies([_check_side(cas, "content")]):
                cas = _reflect_pad_to_multiple(cas)
            return self.stylize_padded(padded, style_padded, num_iterations, alpha, cas)

        def pure():
            return self.stylize_padded(padded, style_padded, num_iterations)

        out = tf.cond(alpha < 1.0, blended, pure)[:, :h, :w, :]
        out = tf.cond(tf.logical_or(h != height, w != width),
                      lambda: tf.image.resize(out, [height, width], method="bilinear", antialias=True),
                      lambda: out)
        return tf.clip_by_value(out, 0.0, 1.0)[0]

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, 3], tf.float32, name="content"),
        tf.TensorSpec([None, None, 3], tf.float32, name="style"),
        tf.TensorSpec([], tf.int32, name="num_iterations"),
        tf.TensorSpec([], tf.int32, name="max_resolution"),
        tf.TensorSpec([], tf.float32, name="alpha"),
    ])
    def serve_float(self, content, style, num_iterations, max_resolution, alpha):
        """Float RGB in [0,1] in and out."""
        return {"stylized": self.stylize(content, style, num_iterations, max_resolution, alpha)}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, 3], tf.uint8, name="content"),
        tf.TensorSpec([None, None, 3], tf.uint8, name="style"),
        tf.TensorSpec([], tf.int32, name="num_iterations"),
        tf.TensorSpec([], tf.int32, name="max_resolution"),
        tf.TensorSpec([], tf.float32, name="alpha"),
    ])
    def serve_uint8(self, content, style, num_iterations, max_resolution, alpha):
        """uint8 RGB in, uint8 RGB out (rounded)."""
        out = self.stylize(tf.cast(content, tf.float32) / 255.0, tf.cast(style, tf.float32) / 255.0,
                           num_iterations, max_resolution, alpha)
        return {"stylized": tf.cast(tf.round(out * 255.0), tf.uint8)}


# ----------------------------------------------------------------------------------------------------------
# weight transfer from PyTorch

def _numpy(value) -> np.ndarray:
    value = value.detach().cpu().numpy() if hasattr(value, "detach") else value
    return np.asarray(value, dtype=np.float32)


def load_torch_weights(model: SANetTF, encoder_state: dict, transform_state: dict, decoder_state: dict,
                       encoder_scales: dict[str, list[float]] | None = None) -> None:
    """Copy PyTorch state dicts into the TF model: '<key>.weight' (OIHW) -> kernel (HWIO), '<key>.bias' -> bias.

    Every TF variable must receive a tensor of its shape and every PyTorch tensor must be used: no silent skips.
    With `encoder_scales` (the normalisation folded into `encoder_state`), the encoder gets the unfolded
    weights and each tap its scale vector instead: the same function, but quantizable (see
    weights.unfold_encoder_scales).
    """
    if encoder_scales:
        from .weights import unfold_encoder_scales

        encoder_state = unfold_encoder_scales(encoder_state, encoder_scales, model.encoder_name)
    for tap, variable in model.encoder.tap_scales.items():
        conv = "conv" + tap[4:]
        scale = np.asarray(encoder_scales[conv] if encoder_scales else np.ones(variable.shape), np.float32)
        if scale.shape != tuple(variable.shape):
            raise ValueError(f"encoder scales for {conv}: {scale.shape}, expected {variable.shape.as_list()}")
        variable.assign(scale)
    states = {"encoder": encoder_state, "transform": transform_state, "decoder": decoder_state}
    used: dict[str, set] = {part: set() for part in states}
    for full_key, conv in model.named_convs().items():
        part, key = full_key.split(".", 1)
        state = states[part]
        for suffix in ("weight", "bias"):
            if f"{key}.{suffix}" not in state:
                raise KeyError(f"{part} state dict has no {key}.{suffix} for the TF variable {conv.key}")
        weight, bias = _numpy(state[f"{key}.weight"]), _numpy(state[f"{key}.bias"])
        kernel = weight.transpose(2, 3, 1, 0)                                # OIHW -> HWIO
        if kernel.shape != tuple(conv.kernel.shape) or bias.shape != tuple(conv.bias.shape):
            raise ValueError(f"{part}.{key}: PyTorch weight {list(weight.shape)} / bias {list(bias.shape)} do not "
                             f"fit TF kernel {conv.kernel.shape.as_list()} / bias {conv.bias.shape.as_list()}")
        conv.kernel.assign(kernel)
        conv.bias.assign(bias)
        used[part] |= {f"{key}.weight", f"{key}.bias"}
    for part, state in states.items():
        left = sorted(set(state) - used[part])
        if left:
            raise KeyError(f"{part} state dict keys with no TF variable: {left[:5]}")


def from_torch(torch_model) -> SANetTF:
    """A SANetTF holding the weights of a PyTorch SANetModel."""
    model = SANetTF(torch_model.encoder_name)
    load_torch_weights(model, torch_model.encoder.state_dict(), torch_model.transform.state_dict(),
                       torch_model.decoder.state_dict(), torch_model.encoder_scales)
    return model


def save_serving(model: SANetTF, path) -> None:
    """SavedModel with signatures 'serving_default' (float [0,1]) and 'serving_uint8'."""
    tf.saved_model.save(model, str(path), signatures={
        "serving_default": model.serve_float.get_concrete_function(),
        "serving_uint8": model.serve_uint8.get_concrete_function(),
    })
