"""SANet's training losses (Park & Lee, CVPR 2019, eq. 5-8), as in the original release's net.py.

  content   sum over relu4_1, relu5_1 of MSE(mvn(E(Ics)), mvn(E(Ic)))
  style     sum over relu1_1..relu5_1 of MSE(mean) + MSE(std) of E(Ics) against E(Is)
  identity1 MSE(Icc, Ic) + MSE(Iss, Is)            (pixels; Icc = D(T(Ic, Ic)), Iss = D(T(Is, Is)))
  identity2 sum over the five taps of MSE(E(Icc), E(Ic)) + MSE(E(Iss), E(Is))
Statistics are taken in float32 even under bf16 autocast: a variance in bfloat16 is too coarse to train on.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .architecture import TAPS
from .sanet_torch import SANetModel, calc_mean_std, mean_variance_norm

CONTENT_TAPS = ("relu4_1", "relu5_1")


@dataclass(frozen=True)
class LossWeights:
    """The paper's weights: content 1, style 3, identity-pixel 50, identity-feature 1."""

    content: float = 1.0
    style: float = 3.0
    identity1: float = 50.0
    identity2: float = 1.0


def content_loss(out: dict[str, torch.Tensor], content: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(F.mse_loss(mean_variance_norm(out[t].float()), mean_variance_norm(content[t].float()))
               for t in CONTENT_TAPS)


def style_loss(out: dict[str, torch.Tensor], style: dict[str, torch.Tensor]) -> torch.Tensor:
    total = 0.0
    for t in TAPS:
        mo, so = calc_mean_std(out[t].float())
        ms, ss = calc_mean_std(style[t].float())
        total = total + F.mse_loss(mo, ms) + F.mse_loss(so, ss)
    return total


def feature_loss(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(F.mse_loss(a[t].float(), b[t].float()) for t in TAPS)


def sanet_losses(model: SANetModel, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four loss terms (unweighted) for a batch of content and style images, (B, 3, H, W) each.

    H and W must be multiples of 16. Ics, Icc and Iss go through the transform, decoder and encoder as one
    batch of 3B (every op is per image, so this only makes the GPU's work larger and fewer). Content and
    style features need no gradients (frozen encoder, data inputs); decoder outputs stay unclamped, as in
    the original."""
    b = content.shape[0]
    with torch.no_grad():
        f = model.encode(torch.cat([content, style]))
    fc = {k: v[:b] for k, v in f.items()}
    fs = {k: v[b:] for k, v in f.items()}
    queries = {t: torch.cat([fc[t], fc[t], fs[t]]) for t in CONTENT_TAPS}    # Ics, Icc, Iss
    keys = {t: torch.cat([fs[t], fc[t], fs[t]]) for t in CONTENT_TAPS}
    out = model.decoder(model.transform(queries["relu4_1"], keys["relu4_1"], queries["relu5_1"], keys["relu5_1"]))
    icc, iss = out[b:2 * b], out[2 * b:]
    fo = model.encode(out)
    fcs, fcc, fss = ({k: v[i * b:(i + 1) * b] for k, v in fo.items()} for i in range(3))
    return {
        "content": content_loss(fcs, fc),
        "style": style_loss(fcs, fs),
        "identity1": F.mse_loss(icc.float(), content.float()) + F.mse_loss(iss.float(), style.float()),
        "identity2": feature_loss(fcc, fc) + feature_loss(fss, fs),
    }


def weighted_total(terms: dict[str, torch.Tensor], w: LossWeights) -> torch.Tensor:
    return (w.content * terms["content"] + w.style * terms["style"]
            + w.identity1 * terms["identity1"] + w.identity2 * terms["identity2"])
