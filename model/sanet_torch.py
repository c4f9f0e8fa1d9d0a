"""SANet (Park & Lee, CVPR 2019) in PyTorch: the network we train and the one that reads released weights.

Layout and state-dict keys follow the original release (GlebSBrykin/SANET) so its files load unchanged:
  encoder    nn.Sequential  keys "0.weight", "2.weight", ... (vgg_normalised.pth, truncated at relu5_1)
  decoder    nn.Sequential  keys "1.weight", "5.weight", ... (decoder.pth)
  transform  Transform      keys "sanet4_1.f.weight", ..., "merge_conv.weight" (transformer.pth)
Images are NCHW float RGB in [0, 1]. Feature shapes are noted as (B, C, H, W).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .architecture import FEATURES, MVN_EPS, SIZE_MULTIPLE, Layer, decoder_layers, encoder_layers, tap_indices


def calc_mean_std(feat: torch.Tensor, eps: float = MVN_EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over space, (B, C, 1, 1) each; unbiased variance + eps as in the original."""
    b, c = feat.shape[:2]
    flat = feat.reshape(b, c, -1)
    mean = flat.mean(dim=2).reshape(b, c, 1, 1)
    std = (flat.var(dim=2) + eps).sqrt().reshape(b, c, 1, 1)
    return mean, std


def mean_variance_norm(feat: torch.Tensor) -> torch.Tensor:
    mean, std = calc_mean_std(feat)
    return (feat - mean) / std


def build_layers(layers: list[Layer]) -> nn.Sequential:
    """An architecture layer list as nn.Sequential: reflection pad before every 3x3 conv, ceil-mode 2x2
    max-pools, 2x nearest upsampling; position i holds layers[i], so state-dict keys are the layer indices."""
    make = {
        "conv1x1": lambda l: nn.Conv2d(l.cin, l.cout, 1),
        "conv": lambda l: nn.Conv2d(l.cin, l.cout, 3),
        "pad": lambda l: nn.ReflectionPad2d(1),
        "relu": lambda l: nn.ReLU(),
        "pool": lambda l: nn.MaxPool2d(2, 2, 0, ceil_mode=True),
        "up": lambda l: nn.Upsample(scale_factor=2, mode="nearest"),
    }
    return nn.Sequential(*(make[layer.kind](layer) for layer in layers))


def build_encoder(encoder: str) -> nn.Sequential:
    """Image (B, 3, H, W) -> VGG features to relu5_1 (B, 512, H/16, W/16), taps along the way."""
    return build_layers(encoder_layers(encoder))


def build_decoder() -> nn.Sequential:
    """relu4_1-sized features (B, 512, H/8, W/8) -> image (B, 3, H, W); the original decoder.pth layout."""
    return build_layers(decoder_layers())


class SANet(nn.Module):
    """Style-attentional module: each content position gathers style features by attention.

    sdpa=True computes the same attention with F.scaled_dot_product_attention (scale 1: SANet does not scale
    q.k), which fuses the softmax and never holds the (Nc, Ns) matrix on backends with a fused kernel; the
    result equals the plain path to float rounding. The flag has no weights: it can be set at any time.
    """

    def __init__(self, channels: int = FEATURES, sdpa: bool = False):
        super().__init__()
        self.f = nn.Conv2d(channels, channels, 1)         # query, from normalised content
        self.g = nn.Conv2d(channels, channels, 1)         # key, from normalised style
        self.h = nn.Conv2d(channels, channels, 1)         # value, from raw style
        self.out_conv = nn.Conv2d(channels, channels, 1)
        self.sdpa = sdpa

    def queries_keys(self, content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The query f(mvn(content)) (B, C, Nc) and key g(mvn(style)) (B, C, Ns), positions row-major."""
        b, c, hc, wc = content.shape
        q = self.f(mean_variance_norm(content)).reshape(b, c, hc * wc)       # (B, C, Nc)
        k = self.g(mean_variance_norm(style)).flatten(2)                     # (B, C, Ns)
        return q, k

    def attention(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """The attention map (B, Nc, Ns): row i is softmax_j(f(mvn(Fc_i))^T g(mvn(Fs_j))), the weights content
        position i (row-major over Hc x Wc) gives the style positions (row-major over Hs x Ws); rows sum to 1.
        The reference for the page's attention explorer (static/stylizer/attention.js)."""
        q, k = self.queries_keys(content, style)
        return torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, c, hc, wc = content.shape
        q, k = self.queries_keys(content, style)                             # (B, C, Nc), (B, C, Ns)
        v = self.h(style).flatten(2)                                         # (B, C, Ns)
        if self.sdpa:
            qkv = (t.transpose(1, 2)[:, None] for t in (q, k, v))             # (B, 1, N, C) each
            o = F.scaled_dot_product_attention(*qkv, scale=1.0)[:, 0]        # (B, Nc, C)
            o = o.transpose(1, 2).reshape(b, c, hc, wc)
        else:
            s = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)       # (B, Nc, Ns), rows sum to 1
            o = torch.bmm(v, s.transpose(1, 2)).reshape(b, c, hc, wc)        # (B, C, Hc, Wc)
        return self.out_conv(o) + content


class Transform(nn.Module):
    """Two SANets (relu4_1, relu5_1), relu5_1 result upsampled onto relu4_1, summed, merged by a 3x3 conv."""

    def __init__(self, channels: int = FEATURES, sdpa: bool = False):
        super().__init__()
        self.sanet4_1 = SANet(channels, sdpa)
        self.sanet5_1 = SANet(channels, sdpa)
        self.merge_conv_pad = nn.ReflectionPad2d(1)
        self.merge_conv = nn.Conv2d(channels, channels, 3)

    def forward(self, c4: torch.Tensor, s4: torch.Tensor, c5: torch.Tensor, s5: torch.Tensor) -> torch.Tensor:
        o4 = self.sanet4_1(c4, s4)                                           # (B, 512, H/8, W/8)
        o5 = self.sanet5_1(c5, s5)                                           # (B, 512, H/16, W/16)
        # 2x nearest upsampling, cropped to relu4_1's size (a no-op crop for padded inputs; the original
        # used a plain 2x upsample, which only works when H and W are multiples of 16).
        o5 = o5.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[:, :, : o4.shape[2], : o4.shape[3]]
        return self.merge_conv(self.merge_conv_pad(o4 + o5))

    def attention(self, c4: torch.Tensor, s4: torch.Tensor, c5: torch.Tensor, s5: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both modules' attention maps, {"relu4_1": (B, Nc4, Ns4), "relu5_1": (B, Nc5, Ns5)} (SANet.attention)."""
        return {"relu4_1": self.sanet4_1.attention(c4, s4), "relu5_1": self.sanet5_1.attention(c5, s5)}


class SANetModel(nn.Module):
    """Encoder (frozen) + Transform + Decoder, with iterative stylization and alpha blending."""

    def __init__(self, encoder: str, sdpa: bool = False):
        super().__init__()
        self.encoder_name = encoder
        self.encoder = build_encoder(encoder)
        self.transform = Transform(sdpa=sdpa)
        self.decoder = build_decoder()
        self._taps = tap_indices(encoder)
        self.encoder.requires_grad_(False)
        # Per-channel normalisation of the encoder's convs ({conv name: scales}), already folded into
        # self.encoder's weights; kept so the checkpoint and the TF export can carry it (None: not normalised).
        self.encoder_scales: dict[str, list[float]] | None = None

    def encode(self, image: torch.Tensor, upto: str = "relu5_1") -> dict[str, torch.Tensor]:
        """Image (B, 3, H, W) in [0,1] -> {tap: features} for every tap up to `upto`."""
        feats, last = {}, self._taps[upto]
        x = image
        stops = {idx: name for name, idx in self._taps.items()}
        for i, layer in enumerate(self.encoder):
            x = layer(x)
            if i in stops:
                feats[stops[i]] = x
            if i == last:
                break
        return feats

    def encode_for_transform(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image (B, 3, H, W) -> (relu4_1 (B, 512, H/8, W/8), relu5_1 (B, 512, H/16, W/16)): the transform's inputs."""
        f = self.encode(image)
        return f["relu4_1"], f["relu5_1"]

    def stylize_padded(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        num_iterations: int = 1,
        alpha: float = 1.0,
        content_as_style: torch.Tensor | None = None,
        style2: torch.Tensor | None = None,
        mix: float = 1.0,
    ) -> torch.Tensor:
        """Inputs (1, 3, H, W) with H, W multiples of 16. Returns the content's shape, clipped to [0, 1].

        The style is encoded once. Each iteration re-encodes the previous output as the new content.
        With alpha < 1 it blends in feature space: alpha * T(c, s) + (1 - alpha) * T(c, c0), c0 the original
        content used as a style (`content_as_style`, by default the content itself; the pipeline passes it at
        the style resolution) so the blend target stays fixed across iterations. sanet_tf mirrors this.
        With a second style and mix < 1, T(c, s) is mix * T(c, s) + (1 - mix) * T(c, style2) (the page's
        style mixing, static/stylizer/sanet.js).
        """
        assert content.shape[-2] % SIZE_MULTIPLE == 0 and content.shape[-1] % SIZE_MULTIPLE == 0, content.shape
        blend, mixed = alpha < 1.0, style2 is not None and mix < 1.0
        s4, s5 = self.encode_for_transform(style)
        if mixed:
            s24, s25 = self.encode_for_transform(style2)
        if blend:
            cs4, cs5 = self.encode_for_transform(content if content_as_style is None else content_as_style)
        x = content
        for _ in range(num_iterations):
            c4, c5 = self.encode_for_transform(x)
            t = self.transform(c4, s4, c5, s5)
            if mixed:
                t = mix * t + (1.0 - mix) * self.transform(c4, s24, c5, s25)
            if blend:
                t = alpha * t + (1.0 - alpha) * self.transform(c4, cs4, c5, cs5)
            x = self.decoder(t).clamp(0.0, 1.0)
        return x

    def attention_padded(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        num_iterations: int = 1,
        alpha: float = 1.0,
        content_as_style: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """The attention maps of stylize_padded's last iteration, {"relu4_1": (1, Nc4, Ns4), "relu5_1": ...}:
        the weights of the T(c, s) that made the output (c the previous iteration's output; with alpha < 1 the
        earlier iterations blend as stylize_padded does). What the page's attention explorer shows."""
        x = content
        if num_iterations > 1:
            x = self.stylize_padded(content, style, num_iterations - 1, alpha, content_as_style)
        c4, c5 = self.encode_for_transform(x)
        s4, s5 = self.encode_for_transform(style)
        return self.transform.attention(c4, s4, c5, s5)


def reflect_pad_to_multiple(image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflection-pad (B, C, H, W) on the bottom/right to multiples of 16; returns the original (H, W)."""
    h, w = image.shape[-2:]
    ph, pw = (-h) % SIZE_MULTIPLE, (-w) % SIZE_MULTIPLE
    if ph or pw:
        image = F.pad(image, (0, pw, 0, ph), mode="reflect")
    return image, (h, w)
