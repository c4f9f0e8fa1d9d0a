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

from .architecture import (
    DECODER_LAYOUT,
    FEATURES,
    MVN_EPS,
    SIZE_MULTIPLE,
    TAPS,
    encoder_layers,
    tap_indices,
)


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


def build_encoder(encoder: str) -> nn.Sequential:
    """VGG to relu5_1: 1x1 input conv, reflection pad before every 3x3 conv, ceil-mode 2x2 max-pools."""
    modules: list[nn.Module] = []
    for layer in encoder_layers(encoder):
        if layer.kind == "conv1x1":
            modules.append(nn.Conv2d(3, 3, 1))
        elif layer.kind == "pad":
            modules.append(nn.ReflectionPad2d(1))
        elif layer.kind == "conv":
            modules.append(nn.Conv2d(layer.cin, layer.cout, 3))
        elif layer.kind == "relu":
            modules.append(nn.ReLU())
        elif layer.kind == "pool":
            modules.append(nn.MaxPool2d(2, 2, 0, ceil_mode=True))
    return nn.Sequential(*modules)


def build_decoder() -> nn.Sequential:
    """relu4_1-sized features (B, 512, H/8, W/8) -> image (B, 3, H, W); the original decoder.pth layout."""
    modules: list[nn.Module] = []
    convs = [e for e in DECODER_LAYOUT if e[0] == "conv"]
    for entry in DECODER_LAYOUT:
        if entry[0] == "up":
            modules.append(nn.Upsample(scale_factor=2, mode="nearest"))
            continue
        _, cin, cout = entry
        modules += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
        if entry is not convs[-1]:
            modules.append(nn.ReLU())
    return nn.Sequential(*modules)


class SANet(nn.Module):
    """Style-attentional module: each content position gathers style features by attention."""

    def __init__(self, channels: int = FEATURES):
        super().__init__()
        self.f = nn.Conv2d(channels, channels, 1)         # query, from normalised content
        self.g = nn.Conv2d(channels, channels, 1)         # key, from normalised style
        self.h = nn.Conv2d(channels, channels, 1)         # value, from raw style
        self.out_conv = nn.Conv2d(channels, channels, 1)

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, c, hc, wc = content.shape
        q = self.f(mean_variance_norm(content)).reshape(b, c, hc * wc)       # (B, C, Nc)
        k = self.g(mean_variance_norm(style)).flatten(2)                     # (B, C, Ns)
        v = self.h(style).flatten(2)                                         # (B, C, Ns)
        s = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)           # (B, Nc, Ns), rows sum to 1
        o = torch.bmm(v, s.transpose(1, 2)).reshape(b, c, hc, wc)            # (B, C, Hc, Wc)
        return self.out_conv(o) + content


class Transform(nn.Module):
    """Two SANets (relu4_1, relu5_1), relu5_1 result upsampled onto relu4_1, summed, merged by a 3x3 conv."""

    def __init__(self, channels: int = FEATURES):
        super().__init__()
        self.sanet4_1 = SANet(channels)
        self.sanet5_1 = SANet(channels)
        self.merge_conv_pad = nn.ReflectionPad2d(1)
        self.merge_conv = nn.Conv2d(channels, channels, 3)

    def forward(self, c4: torch.Tensor, s4: torch.Tensor, c5: torch.Tensor, s5: torch.Tensor) -> torch.Tensor:
        o4 = self.sanet4_1(c4, s4)                                           # (B, 512, H/8, W/8)
        o5 = self.sanet5_1(c5, s5)                                           # (B, 512, H/16, W/16)
        # 2x nearest upsampling, cropped to relu4_1's size (a no-op crop for padded inputs; the original
        # used a plain 2x upsample, which only works when H and W are multiples of 16).
        o5 = o5.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[:, :, : o4.shape[2], : o4.shape[3]]
        return self.merge_conv(self.merge_conv_pad(o4 + o5))


class SANetModel(nn.Module):
    """Encoder (frozen) + Transform + Decoder, with iterative stylization and alpha blending."""

    def __init__(self, encoder: str):
        super().__init__()
        self.encoder_name = encoder
        self.encoder = build_encoder(encoder)
        self.transform = Transform()
        self.decoder = build_decoder()
        self._taps = tap_indices(encoder)
        self.encoder.requires_grad_(False)

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
        f = self.encode(image)
        return f["relu4_1"], f["relu5_1"]

    def stylize_padded(
        self,
        content: torch.Tensor,
        style: torch.Tensor,
        num_iterations: int = 1,
        alpha: float = 1.0,
        content_as_style: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Inputs (1, 3, H, W) with H, W multiples of 16. Returns the content's shape, clipped to [0, 1].

        The style is encoded once. Each iteration re-encodes the previous output as the new content.
        alpha blends in feature space: alpha * T(c, s) + (1 - alpha) * T(c, c), where the second c is the
        original content used as a style (`content_as_style`, by default the content itself; the pipeline
        passes it at the style resolution) so the blend target stays fixed across iterations.
        """
        assert content.shape[-2] % SIZE_MULTIPLE == 0 and content.shape[-1] % SIZE_MULTIPLE == 0, content.shape
        s4, s5 = self.encode_for_transform(style)
        if alpha < 1.0:
            cs4, cs5 = self.encode_for_transform(content if content_as_style is None else content_as_style)
        x = content
        for _ in range(num_iterations):
            c4, c5 = self.encode_for_transform(x)
            t = self.transform(c4, s4, c5, s5)
            if alpha < 1.0:
                t = alpha * t + (1.0 - alpha) * self.transform(c4, cs4, c5, cs5)
            x = self.decoder(t).clamp(0.0, 1.0)
        return x


def feature_taps() -> tuple[str, ...]:
    return TAPS


def reflect_pad_to_multiple(image: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflection-pad (B, C, H, W) on the bottom/right to multiples of 16; returns the original (H, W)."""
    h, w = image.shape[-2:]
    ph, pw = (-h) % SIZE_MULTIPLE, (-w) % SIZE_MULTIPLE
    if ph or pw:
        image = F.pad(image, (0, pw, 0, ph), mode="reflect")
    return image, (h, w)
