"""scripts/ship_checkpoint.py: the shipped checkpoint carries the measured scores of that checkpoint, at that
step, and the run's hours from its log; anything else is refused with the file named."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from scripts import ship_checkpoint


def evaluation(path, weights, step, size, pairs=32, style=0.35, identity=0.7):
    rows = [{"model": "identity (output = content)", "step": None, "content": 0.0, "style": identity,
             "style_vs_identity": 1.0},
            {"model": str(weights), "step": step, "content": 1.41234, "style": style,
             "style_vs_identity": style / identity}]
    path.write_text(json.dumps({"pairs": pairs, "size": size, "rows": rows}))
    return path


@pytest.fixture
def run(tmp_path):
    weights = tmp_path / "sanet-vgg19.safetensors"
    meta = {"step": 40, "trained": True, "description": "x", "training": {"iterations": 40, "encoder": "vgg19"}}
    save_file({"decoder.w": torch.ones(2, dtype=torch.float16)}, str(weights),
              metadata={"format": "sanet-checkpoint", "encoder": "vgg19", "meta": json.dumps(meta)})
    log = tmp_path / "train_log.csv"
    # the last row is the run going on past the checkpoint while it is shipped: not the checkpoint's hours
    log.write_text("step,run,elapsed_s\n10,0,100\n20,0,3600\n30,1,50\n40,1,1800\n50,2,900\n")
    return tmp_path, weights, log


def ship(tmp_path, weights, log, *scores, extra=()):
    out = tmp_path / "shipped.safetensors"
    code = ship_checkpoint.main(["--weights", str(weights), "--scores", *map(str, scores), "--hardware",
                                 "2-core AMD EPYC (AVX512-BF16)", "--log", str(log), "--out", str(out), *extra])
    return code, out


def test_the_shipped_metadata_is_the_measured_scores(run):
    tmp_path, weights, log = run
    code, out = ship(tmp_path, weights, log, evaluation(tmp_path / "a.json", weights, 40, 256, style=0.35),
                     evaluation(tmp_path / "b.json", weights, 40, 512, style=0.30, identity=0.6))
    assert code == 0
    with safe_open(str(out), "pt") as f:
        meta = json.loads(f.metadata()["meta"])
        assert torch.equal(f.get_tensor("decoder.w"), torch.ones(2, dtype=torch.float16))
    training = meta["training"]
    assert meta["interim"] is False and training["interim"] is False
    assert training["cpu_hours"] == 1.5                       # 3600 s (run 0) + 1800 s (run 1)
    assert training["scores"]["at_256"] == {"content": 1.4123, "style": 0.35, "identity_style": 0.7,
                                            "style_vs_identity": 0.5, "pairs": 32, "size": 256}
    assert training["scores"]["at_512"]["style_vs_identity"] == 0.5
    assert "VGG-19" in meta["description"] and "40 iterations" in meta["description"]


@pytest.mark.parametrize("updates, span", [(809, "200"), (50, "50")])
def test_a_weight_average_says_about_how_many_steps_it_weighs(tmp_path, updates, span):
    """An EMA of decay 0.995 that has seen 809 steps weighs about its last 200, not all 809 (nor more than it saw)."""
    weights = tmp_path / "ema.safetensors"
    meta = {"step": 40, "trained": True, "description": "x", "training": {"iterations": 40, "encoder": "vgg19"},
            "ema": {"decay": 0.995, "since_step": 0, "updates": updates}}
    save_file({"decoder.w": torch.ones(2, dtype=torch.float16)}, str(weights),
              metadata={"format": "sanet-checkpoint", "encoder": "vgg19", "meta": json.dumps(meta)})
    log = tmp_path / "train_log.csv"
    log.write_text("step,run,elapsed_s\n40,0,3600\n")
    code, out = ship(tmp_path, weights, log, evaluation(tmp_path / "a.json", weights, 40, 256),
                     evaluation(tmp_path / "b.json", weights, 40, 512))
    assert code == 0
    with safe_open(str(out), "pt") as f:
        description = json.loads(f.metadata()["meta"])["description"]
    assert description.endswith(f"weights averaged exponentially (decay 0.995) over about its last {span} steps")


def test_scores_of_another_step_checkpoint_or_too_few_pairs_are_refused(run, tmp_path):
    _, weights, log = run
    good = evaluation(tmp_path / "good.json", weights, 40, 512)
    for bad, message in [(evaluation(tmp_path / "step.json", weights, 30, 256), "step 30"),
                         (evaluation(tmp_path / "other.json", tmp_path / "other.safetensors", 40, 256), "not exactly one row"),
                         (evaluation(tmp_path / "few.json", weights, 40, 256, pairs=8), "8 pairs"),
                         (evaluation(tmp_path / "size.json", weights, 40, 512), "one file at 256 px")]:
        with pytest.raises(SystemExit, match=message):
            ship(tmp_path, weights, log, bad, good)
