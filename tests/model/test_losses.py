"""SANet's loss terms against hand computations: each formula on tensors small enough to work out with plain
Python arithmetic, and sanet_losses' batching (Ics, Icc, Iss in one batch of 3B) against the images run one
by one."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model.architecture import TAPS
from model.losses import LossWeights, content_loss, feature_loss, sanet_losses, style_loss, weighted_total
from model.sanet_torch import SANetModel
from model.weights import random_init_

EPS = 1e-5   # added to the unbiased variance, as in the original release


def features(values_by_tap: dict[str, list[list[float]]]) -> dict[str, torch.Tensor]:
    """{tap: [[channel 0's values over space], [channel 1's], ...]} -> (1, C, 1, N) tensors."""
    return {t: torch.tensor(v, dtype=torch.float32)[None, :, None, :] for t, v in values_by_tap.items()}


def mean(xs):
    return sum(xs) / len(xs)


def std(xs):   # unbiased, plus eps, as calc_mean_std
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1) + EPS)


def test_content_loss_is_the_mse_of_normalised_relu4_1_and_relu5_1():
    out = {t: [[9.0, 9.0, 9.0]] for t in TAPS}              # taps the content loss must not read
    content = {t: [[0.0, 0.0, 0.0]] for t in TAPS}
    out.update(relu4_1=[[1.0, 2.0, 3.0]], relu5_1=[[0.0, 4.0, 2.0]])
    content.update(relu4_1=[[2.0, 4.0, 9.0]], relu5_1=[[1.0, 1.0, 4.0]])
    # relu4_1: out normalised (x - 2) / sqrt(1 + eps); content (x - 5) / sqrt(13 + eps)
    a4 = [(x - 2) / math.sqrt(1 + EPS) for x in (1, 2, 3)]
    b4 = [(x - 5) / math.sqrt(13 + EPS) for x in (2, 4, 9)]
    # relu5_1: out (x - 2) / sqrt(4 + eps); content (x - 2) / sqrt(3 + eps)
    a5 = [(x - 2) / math.sqrt(4 + EPS) for x in (0, 4, 2)]
    b5 = [(x - 2) / math.sqrt(3 + EPS) for x in (1, 1, 4)]
    expected = mean([(a - b) ** 2 for a, b in zip(a4, b4)]) + mean([(a - b) ** 2 for a, b in zip(a5, b5)])
    assert content_loss(features(out), features(content)).item() == pytest.approx(expected, rel=1e-6)
    assert expected > 0.1


def test_style_loss_sums_mean_and_std_errors_over_the_five_taps():
    rng = np.random.default_rng(0)
    out = {t: rng.uniform(0, 3, (2, 4)).round(1).tolist() for t in TAPS}       # 2 channels, 4 positions
    style = {t: rng.uniform(0, 3, (2, 4)).round(1).tolist() for t in TAPS}
    expected = 0.0
    for t in TAPS:   # MSE over the 2 channels of the means, plus the same of the stds
        expected += mean([(mean(o) - mean(s)) ** 2 for o, s in zip(out[t], style[t])])
        expected += mean([(std(o) - std(s)) ** 2 for o, s in zip(out[t], style[t])])
    assert style_loss(features(out), features(style)).item() == pytest.approx(expected, rel=1e-5)
    # blind to where things are: the same values moved around cost nothing
    shuffled = {t: [v[::-1] for v in vs] for t, vs in style.items()}
    assert style_loss(features(shuffled), features(style)).item() == pytest.approx(0.0, abs=1e-10)


def test_feature_loss_is_the_plain_mse_summed_over_taps():
    a = {t: [[float(i), 2.0 * i]] for i, t in enumerate(TAPS)}
    b = {t: [[0.0, 0.0]] for t in TAPS}
    expected = sum(mean([i ** 2, (2 * i) ** 2]) for i in range(5))              # 0 + 2.5 + 10 + 22.5 + 40
    assert expected == 75.0
    assert feature_loss(features(a), features(b)).item() == pytest.approx(75.0)


def test_weighted_total_uses_the_papers_weights():
    terms = {k: torch.tensor(v) for k, v in {"content": 1.5, "style": 2.0, "identity1": 0.1, "identity2": 4.0}.items()}
    assert LossWeights() == LossWeights(content=1.0, style=3.0, identity1=50.0, identity2=1.0)
    assert weighted_total(terms, LossWeights()).item() == pytest.approx(1.5 + 3 * 2.0 + 50 * 0.1 + 4.0)


def test_sanet_losses_pair_the_right_images():
    """The batched computation equals the definition: Ics = D(T(c, s)) against c (content) and s (style);
    Icc = D(T(c, c)) and Iss = D(T(s, s)) against c and s in pixels (identity1) and in features (identity2)."""
    model = SANetModel("vgg16").eval()
    random_init_(model, seed=5)
    gen = torch.Generator().manual_seed(0)
    content, style = torch.rand(2, 3, 32, 48, generator=gen), torch.rand(2, 3, 32, 48, generator=gen)
    terms = sanet_losses(model, content, style)

    def d(c, s):
        c4, c5 = model.encode_for_transform(c)
        s4, s5 = model.encode_for_transform(s)
        return model.decoder(model.transform(c4, s4, c5, s5))

    def np_feats(x):
        return {t: v.double().numpy() for t, v in model.encode(x).items()}

    def mvn(x):   # (B, C, H, W) numpy
        flat = x.reshape(*x.shape[:2], -1)
        m, v = flat.mean(-1, keepdims=True), flat.var(-1, ddof=1, keepdims=True)
        return ((flat - m) / np.sqrt(v + EPS)).reshape(x.shape)

    def mse(a, b):
        return float(np.mean((a - b) ** 2))

    with torch.no_grad():   # each output image made on its own, one image at a time
        one_by_one = lambda a, b: torch.cat([d(a[i:i + 1], b[i:i + 1]) for i in range(2)])  # noqa: E731
        ics, icc, iss = one_by_one(content, style), one_by_one(content, content), one_by_one(style, style)
        fc, fs, fics, ficc, fiss = (np_feats(x) for x in (content, style, ics, icc, iss))
    stats = lambda x: (x.reshape(*x.shape[:2], -1).mean(-1),  # noqa: E731
                       np.sqrt(x.reshape(*x.shape[:2], -1).var(-1, ddof=1) + EPS))
    expected = {
        "content": sum(mse(mvn(fics[t]), mvn(fc[t])) for t in ("relu4_1", "relu5_1")),
        "style": sum(mse(stats(fics[t])[0], stats(fs[t])[0]) + mse(stats(fics[t])[1], stats(fs[t])[1])
                     for t in TAPS),
        "identity1": mse(icc.double().numpy(), content.double().numpy())
                     + mse(iss.double().numpy(), style.double().numpy()),
        "identity2": sum(mse(ficc[t], fc[t]) + mse(fiss[t], fs[t]) for t in TAPS),
    }
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert terms[name].item() == pytest.approx(value, rel=1e-4), name
        assert value > 0, name


def test_identity_losses_on_part_of_the_batch_are_those_of_its_first_pairs():
    """identity_images=k keeps content and style on the whole batch and takes both identity terms from the
    first k pairs alone; k=0 drops them; k outside 0..B is refused."""
    model = SANetModel("vgg16").eval()
    random_init_(model, seed=7)
    gen = torch.Generator().manual_seed(1)
    content, style = torch.rand(3, 3, 32, 32, generator=gen), torch.rand(3, 3, 32, 32, generator=gen)
    with torch.no_grad():
        whole = sanet_losses(model, content, style)
        all_three = sanet_losses(model, content, style, 3)
        part = sanet_losses(model, content, style, 1)
        first = sanet_losses(model, content[:1], style[:1])
        none = sanet_losses(model, content, style, 0)
    for t in whole:
        assert all_three[t].item() == pytest.approx(whole[t].item(), rel=1e-5), t
    for t in ("content", "style"):
        assert part[t].item() == pytest.approx(whole[t].item(), rel=1e-5), t
        assert none[t].item() == pytest.approx(whole[t].item(), rel=1e-5), t
    for t in ("identity1", "identity2"):
        assert part[t].item() == pytest.approx(first[t].item(), rel=1e-5), t
        assert part[t].item() != pytest.approx(whole[t].item(), rel=1e-3), t   # the subset really is smaller
        assert none[t].item() == 0.0, t
    for k in (-1, 4):
        with pytest.raises(ValueError, match="identity_images must be in 0..3"):
            sanet_losses(model, content, style, k)
