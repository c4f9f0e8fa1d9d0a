"""Evaluation: the two scores behave as defined, pairs come from the held-out split, and the command prints
the identity baseline and each checkpoint's scores."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from model import evaluate
from model.data import CONTENT_DIR, STYLE_DIR, held_out_pairs, is_held_out
from model.sanet_torch import SANetModel
from model.weights import init_model, save_checkpoint

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def feats(seed: int, scale: float = 1.0, shift: float = 0.0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {t: torch.rand(1, 4, 6, 6, generator=g) * scale + shift for t in TAPS}


def test_scores_are_zero_for_a_perfect_match_and_follow_their_formulas():
    a, b = feats(0), feats(1)
    assert evaluate.content_score(a, a) == 0.0 and evaluate.style_score(a, a) == 0.0
    # content is blind to per-channel affine changes (it compares mean-variance-normalised features)
    assert evaluate.content_score(feats(0, scale=3.0, shift=2.0), a) < 1e-6
    assert evaluate.content_score(b, a) > 0.1
    # style: sum |dmu| + |dsd| over channels, relative to the style's sum |mu| + |sd|, averaged over layers
    shifted = {t: v + 0.5 for t, v in a.items()}          # every mean moves by 0.5, the stds stay
    expected = sum(4 * 0.5 / (a[t].mean((2, 3)).abs().sum() + a[t].flatten(2).std(2).abs().sum()).item()
                   for t in TAPS) / 5
    assert abs(evaluate.style_score(shifted, a) - expected) < 1e-4


def test_pairs_are_held_out_and_fixed():
    pairs = held_out_pairs(SHARED / CONTENT_DIR, SHARED / STYLE_DIR, 40)
    assert len(pairs) == 40 and pairs == held_out_pairs(SHARED / CONTENT_DIR, SHARED / STYLE_DIR, 40)
    assert all(is_held_out(c.name) and is_held_out(s.name) for c, s in pairs)
    assert len({c for c, _ in pairs}) == len({s for _, s in pairs}) == 40


def test_command_scores_identity_and_checkpoints(tmp_path, capsys):
    model = init_model(seed=1)
    save_checkpoint(tmp_path / "untrained.safetensors", model, {"step": 0})
    (tmp_path / "run").mkdir()
    save_checkpoint(tmp_path / "run" / "model.safetensors", init_model(seed=2), {"step": 7})
    out_json = tmp_path / "scores.json"
    assert evaluate.main(["--weights", str(tmp_path / "untrained.safetensors"), str(tmp_path / "run"),
                          "--pairs", "2", "--size", "48", "--data", str(SHARED), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert "2 held-out pairs at 48 px" in printed and "identity (output = content)" in printed
    rows = json.loads(out_json.read_text())["rows"]
    assert [r["step"] for r in rows] == [None, 0, 7]
    identity, untrained, _ = rows
    assert identity["content"] == 0.0 and 0 < identity["style"]
    # an untrained decoder's output is far from the content
    assert untrained["content"] > 0.1
    for r in rows:
        assert f"{r['content']:8.4f}" in printed and f"{r['style']:7.4f}" in printed


def test_judge_is_the_plain_vgg16():
    judge = evaluate.judge()
    plain = SANetModel("vgg16")
    from model.weights import vgg16_state_dict
    plain.encoder.load_state_dict(vgg16_state_dict())
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(judge.encode(x)["relu5_1"], plain.encode(x)["relu5_1"])


def test_bad_checkpoint_is_named(tmp_path, capsys):
    bad = tmp_path / "nope.safetensors"
    assert evaluate.main(["--weights", str(bad), "--pairs", "1", "--data", str(SHARED)]) == 2
    assert str(bad) in capsys.readouterr().err
