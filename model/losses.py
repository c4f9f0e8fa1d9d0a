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


def sanet_losses(model: SANetModel, content: torch.Tensor, style: torch.Tensor,
                 identity_images: int | None = None) -> dict[str, torch.Tensor]:
    """The four loss terms (unweighted) for a batch of content and style images, (B, 3, H, W) each.

    H and W must be multiples of 16. Ics, Icc and Iss go through the transform, decoder and encoder as one
    batch of B + 2k (every op is per image, so this only makes the GPU's work larger and fewer). The identity
    terms use the first k = identity_images pairs (default: all B, as the paper): each term is a mean over
    images, so a subset estimates the same loss, while Icc and Iss are two thirds of a full step's decoder
    and encoder work. Content and style features need no gradients (frozen encoder, data inputs); decoder
    outputs stay unclamped, as in the original."""
    b = content.shape[0]
    k = b if identity_images is None else identity_images
    if not 0 <= k <= b:
        raise ValueError(f"identity_images must be in 0..{b} (the batch size), not {k}")
    with torch.no_grad():
        f = model.encode(torch.cat([content, style]))
    fc = {t: v[:b] for t, v in f.items()}
    fs = {t: v[b:] for t, v in f.items()}
    queries = {t: torch.cat([fc[t], fc[t][:k], fs[t][:k]]) for t in CONTENT_TAPS}    # Ics (B), Icc (k), Iss (k)
    keys = {t: torch.cat([fs[t], fc[t][:k], fs[t][:k]]) for t in CONTENT_TAPS}
    out = model.decoder(model.transform(queries["relu4_1"], keys["relu4_1"], queries["relu5_1"], keys["relu5_1"]))
    icc, iss = out[b:b + k], out[b + k:]
    fo = model.encode(out)
    fcs = {t: v[:b] for t, v in fo.items()}
    fcc = {t: v[b:b + k] for t, v in fo.items()}
    fss = {t: v[b + k:] for t, v in fo.items()}
    terms = {"content": content_loss(fcs, fc), "style": style_loss(fcs, fs)}
    if k == 0:
        zero = torch.zeros((), device=out.device)
        return terms | {"identity1": zero, "identity2": zero}
    return terms | {
        "identity1": F.mse_loss(icc.float(), content[:k].float()) + F.mse_loss(iss.float(), style[:k].float()),
        "identity2": feature_loss(fcc, {t: v[:k] for t, v in fc.items()})
                     + feature_loss(fss, {t: v[:k] for t, v in fs.items()}),
    }


def weighted_total(terms: dict[str, torch.Tensor], w: LossWeights) -> torch.Tensor:
    return (w.content * terms["content"] + w.style * terms["style"]
            + w.identity1 * terms["identity1"] + w.identity2 * terms["identity2"])
