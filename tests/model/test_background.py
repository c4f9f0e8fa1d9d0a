"""Background training: start at low priority, checkpoint on a clock, stop on SIGTERM after saving, resume;
and the pieces that make CPU training fast (bf16 choice, crop schedule, malloc settings).

The run is real (`python -m model background start` spawns model.train) on a few real images at 32 px.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pytest
import torch

from model import background, train
from model.cpu_memory import keep_freed_memory
from model.data import CONTENT_DIR, STYLE_DIR, CropSchedule, PairBatches, export_encoder
from model.weights import read_checkpoint

def test_crop_schedule_is_a_function_of_step(tiny_data):
    schedule = CropSchedule.parse("128, 192@8000,256@16000")
    assert [schedule.size_at(s) for s in (0, 7999, 8000, 15999, 16000, 10**6)] == [128, 128, 192, 192, 256, 256]
    assert str(schedule) == "128,192@8000,256@16000"
    assert str(CropSchedule.parse("64")) == "64"
    for bad in ("192@100", "100", "128,abc", "128,64@x"):
        with pytest.raises(ValueError):
            CropSchedule.parse(bad)
    batches = PairBatches(tiny_data / CONTENT_DIR, tiny_data / STYLE_DIR, 1, CropSchedule.parse("32,48@2"))
    assert batches.batch(1)[0].shape[-1] == 32 and batches.batch(2)[0].shape[-1] == 48
    batches.close()
    with pytest.raises(SystemExit):
        train.parse_args(["--size", "32,40@5"])          # 40 is not a multiple of 16
    for zoom in ("0.5", "9"):
        with pytest.raises(SystemExit):
            train.parse_args(["--zoom", zoom])
    assert train.parse_args(["--zoom", "2"]).zoom == 2.0


def test_bf16_is_the_default_exactly_where_the_cpu_has_it():
    cpu = torch.device("cpu")
    ns = lambda amp, cl="auto": argparse.Namespace(amp=amp, channels_last=cl)  # noqa: E731
    native = train.cpu_has_native_bf16()
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if " amx_bf16" in flags or " avx512_bf16" in flags:
        assert native
    amp, channels_last, why = train.choose_precision(ns("auto"), cpu)
    assert (amp, channels_last) == (native, native) and ("native bf16" in why)
    assert train.choose_precision(ns("off"), cpu)[:2] == (False, False)
    assert train.choose_precision(ns("bf16"), cpu)[:2] == (True, True)
    assert train.choose_precision(ns("bf16", "off"), cpu)[:2] == (True, False)


def test_freed_memory_is_kept_on_glibc():
    assert keep_freed_memory() is (os.uname().sysname == "Linux" and os.confstr("CS_GNU_LIBC_VERSION") is not None)


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_background_run_saves_on_a_clock_stops_on_sigterm_and_resumes(tiny_data, tmp_path, capsys):
    encoder = tmp_path / "vgg16-encoder.pt"
    export_encoder(encoder, "vgg16")
    run_dir, weights, work = tmp_path / "state", tmp_path / "state" / "w.safetensors", tmp_path / "work"
    extra = ["--encoder", "vgg16", "--encoder-weights", str(encoder), "--size", "32", "--scale-size", "64",
             "--batch-size", "1", "--identity-images", "1",   # TRAIN_ARGS' 2 would exceed this batch
             "--log-every", "1", "--threads", "1", "--save-every", "1"]
    opts = ["--run-dir", str(run_dir), "--weights", str(weights), "--work-dir", str(work)]
    log = work / "train.log"
    try:   # the default priority: nice 19 for the process and its scheduling group
        assert background.main(["start", "--data", str(tiny_data), *opts, *extra]) == 0
        pid = background.running_pid(work)
        assert pid is not None and os.getpriority(os.PRIO_PROCESS, pid) == 19
        group = Path(f"/proc/{pid}/autogroup")
        if group.exists():
            assert group.read_text().split()[-1] == "19"
        assert background.main(["start", "--data", str(tiny_data), *opts, *extra]) == 0   # idempotent
        assert "already training" in capsys.readouterr().out
        assert background.main(["stop", "--work-dir", str(work)]) == 0                 # before any step
        assert background.running_pid(work) is None
        # the mechanics at normal priority, so that other load on the machine cannot starve the test
        assert background.main(["start", "--nice", "0", "--data", str(tiny_data), *opts, *extra]) == 0
        _wait_for(lambda: log.exists() and log.read_text().count("saved step") >= 2, 300, "two clock saves")
        saved = (run_dir / train.STATE_FILE).stat().st_mtime
        assert background.main(["stop", "--work-dir", str(work)]) == 0
        assert background.running_pid(work) is None
    finally:
        if background.running_pid(work):
            os.kill(background.running_pid(work), 9)
    text = log.read_text()
    assert "stopping at step" in text and "signal 15" in text
    assert "bf16 autocast" in text and "malloc keeps freed memory" in text
    state = torch.load(run_dir / train.STATE_FILE, weights_only=False)
    assert (run_dir / train.STATE_FILE).stat().st_mtime >= saved
    step = state["step"]
    assert read_checkpoint(weights)[4]["step"] == step
    rows = train.read_log(run_dir / train.LOG_FILE)
    assert int(rows[-1]["step"]) == step and sorted(r["step"] for r in rows) == [r["step"] for r in rows]
    assert (run_dir / train.PLOT_FILE).exists() and (work / train.GRID_FILE).exists()
    assert not (run_dir / train.GRID_FILE).exists()      # the grid (dataset images) stays out of the state

    try:   # resume: the next run starts where the state says, and the log goes on
        assert background.main(["start", "--nice", "0", "--data", str(tiny_data), *opts, *extra,
                                "--max-steps", str(step + 2)]) == 0
        _wait_for(lambda: background.running_pid(work) is None, 300, "the resumed run to finish")
    finally:
        if background.running_pid(work):
            os.kill(background.running_pid(work), 9)
    assert f"vgg16 step {step} -> at most {step + 2}" in log.read_text()
    assert torch.load(run_dir / train.STATE_FILE, weights_only=False)["step"] == step + 2
    assert background.main(["stop", "--work-dir", str(work)]) == 0 and "not training" in capsys.readouterr().out
