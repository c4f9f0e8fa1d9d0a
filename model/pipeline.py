"""Stylize images of any size with the PyTorch SANet: resize to fit, pad to multiples of 16, run, map back.

The TensorFlow serving function (sanet_tf.SANetTF.stylize) implements the same steps with the same resize
(bilinear, antialiased, half-pixel centres: torch and TF agree on it to ~1e-6), so the two match end to end.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .architecture import MIN_SIDE, STYLE_MAX_RESOLUTION, fit_long_side
from .sanet_torch import SANetModel, reflect_pad_to_multiple


def fit_within(image: torch.Tensor, long_side: int) -> torch.Tensor:
    """Downscale (B, C, H, W) so its long side is at most `long_side`; never upscale."""
    h, w = image.shape[-2:]
    if max(h, w) <= long_side:
        return image
    size = fit_long_side(h, w, long_side)
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def check_side(image: torch.Tensor, what: str) -> None:
    h, w = image.shape[-2:]
    if min(h, w) < MIN_SIDE:
        raise ValueError(f"{what} is {w}x{h} px after resizing; its short side must be at least {MIN_SIDE} px")


@torch.no_grad()
def stylize(model: SANetModel, content: torch.Tensor, style: torch.Tensor, num_iterations: int = 1,
            max_resolution: int = 512, alpha: float = 1.0,
            output_size: tuple[int, int] | None = None, style2: torch.Tensor | None = None,
            mix: float = 1.0) -> torch.Tensor:
    """content (1, 3, H, W), style (1, 3, h, w), RGB in [0, 1] -> stylized (1, 3, H, W) in [0, 1].

    `output_size` (height, width) is the size the result is mapped back to instead of (H, W): the CLI passes
    the file's size when it decoded the content reduced (images.read_image's long_side).
    `style2` and `mix`: a second style, fitted like the first, mixed in as mix * T(c, s1) + (1 - mix) * T(c, s2).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be in [0, 1], got {mix}")
    if num_iterations < 1:
        raise ValueError(f"num_iterations must be at least 1, got {num_iterations}")
    height, width = output_size or content.shape[-2:]
    style_limit = min(STYLE_MAX_RESOLUTION, max_resolution)
    small = fit_within(content, max_resolution)                      # (1, 3, h', w'), long side <= R
    style = fit_within(style, style_limit)
    check_side(small, "the content image")
    check_side(style, "the style image")
    padded, (h, w) = reflect_pad_to_multiple(small)                 # (1, 3, 16k, 16l)
    style_padded, _ = reflect_pad_to_multiple(style)
    content_as_style = None
    if alpha < 1.0:
        content_as_style = fit_within(content, style_limit)
        check_side(content_as_style, "the content image")
        content_as_style, _ = reflect_pad_to_multiple(content_as_style)
    style2_padded = None
    if style2 is not None and mix < 1.0:
        style2 = fit_within(style2, style_limit)
        check_side(style2, "the second style image")
        style2_padded, _ = reflect_pad_to_multiple(style2)
    out = model.stylize_padded(padded, style_padded, num_iterations, alpha, content_as_style, style2_padded, mix)
    out = out[:, :, :h, :w]
    if (h, w) != (height, width):
        out = F.interpolate(out, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp(0.0, 1.0)
