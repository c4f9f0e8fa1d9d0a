"""Train in the background at the lowest CPU priority, from and into the committed training state.

    python -m model background start     # start, or resume from model/checkpoints/ (idempotent)
    python -m model background status    # step, it/s and the last lines of its log
    python -m model background stop      # SIGTERM, then wait until the run has saved and exited

The run is `python -m model.train` under `nice -n 19`, so tests, builds and benchmarks keep their speed; it
checkpoints atomically every --save-every seconds (10 minutes) and on SIGTERM. Its weights, compact state,
log and loss plot are the committed ones (model/checkpoints/), replaced in place at each save; the grid of
held-out images, the weight average (ema.safetensors) and the process log go to the git-ignored
runs/background/. Extra arguments after `start` go to model.train (e.g. `--budget-seconds 3600`).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "model" / "checkpoints"
RUN_DIR = CHECKPOINTS / "training"                        # train_state.pt, train_log.csv, loss.png
WEIGHTS = CHECKPOINTS / "sanet-vgg19.safetensors"         # float16 weights: what export and evaluate read
WORK_DIR = ROOT / "runs" / "background"                   # git-ignored: pid, process log, grid.png
# The schedule (README, Training): progressive crops, batch 8, images enlarged 1-2x before cropping (measured
# against no zoom from step 2,116: 512 px style 0.513 vs 0.570 x identity after 200 steps, 256 px 0.483 vs 0.447),
# 256 px crops from step 8,116 (an A/B at equal time from there against 192 px until 12,000: as good or better on
# all four scores with half the steps, README), identity losses on 2 of the 8 pairs (1.75x faster steps; its A/B
# against all 8 and why that evidence is weak: README, Training), and an average of the weights over the last ~200
# steps beside each checkpoint (runs/background/ema.safetensors: git-ignored; each run goes on with it when it was
# saved at the step resumed from: a fresh clone's first run starts it again; scripts/device_train.sh --collect
# brings a GPU run's). 0.995, not 0.999: a 256 px step takes ~11 s here, so 200 steps is already ~40 minutes, and in
# the A/B it gave 0.016-0.026 x of 512 px style over the raw weights. One image-decoding thread: on 2 cores the
# default 4 took CPU from the step's own 2 threads (3.6-3.8 s a 128 px step vs 3.3 s). Half the paper's learning
# rate from step 13,165 on (an A/B from that state, same batches, 272 steps: style better at both sizes, raw and
# averaged, README); the committed state is past that step, so the command resumes with it. A run from scratch
# should start at the paper's 1e-4 (`start --lr 1e-4`), as this one did.
TRAIN_ARGS = ("--encoder", "vgg19", "--size", "128,192@6000,256@8116", "--zoom", "2", "--identity-images", "2",
              "--lr", "5e-5", "--ema-decay", "0.995", "--threads", "1",
              "--batch-size", "8", "--max-steps", "40000", "--state-precision", "compact", "--log-every", "50")


def running_pid(work_dir: Path = WORK_DIR) -> int | None:
    """The pid of our background run if it is alive (and is model.train, not a recycled pid), else None."""
    try:
        pid = int((work_dir / "train.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"model.train" in cmdline else None


def lower_group_priority(pid: int, nice: int = 19) -> None:
    """The nice value for the run's whole scheduling group, not only its threads.

    With autogroup scheduling (Linux's default on desktops and on this machine), a new session gets a CPU
    group of its own, and groups share the CPU fairly whatever their members' nice values: measured here, the
    nice-19 run still took 45% of the CPU from a test suite. The group's own nice value fixes that."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:   # no autogroup (kernel option off, or not Linux): plain nice is what applies
        pass


def start(extra: list[str], data: Path, run_dir: Path = RUN_DIR, weights: Path = WEIGHTS,
          work_dir: Path = WORK_DIR, nice: int = 19) -> int:
    pid = running_pid(work_dir)
    if pid is not None:
        print(f"already training (pid {pid}); log: {work_dir / 'train.log'}")
        return 0
    work_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["nice", "-n", str(nice), sys.executable, "-m", "model.train", "--data", str(data), "--run-dir", str(run_dir),
           "--weights", str(weights), "--report-dir", str(work_dir), *TRAIN_ARGS, *extra]
    log = (work_dir / "train.log").open("a")
    log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)   # survives the shell that started it; not in its Ctrl-C
    (work_dir / "train.pid").write_text(f"{proc.pid}\n")
    lower_group_priority(proc.pid, nice)
    time.sleep(2)
    if proc.poll() is not None:
        print(f"error: training exited at once (status {proc.returncode}); see {work_dir / 'train.log'}",
              file=sys.stderr)
        return 1
    print(f"training in the background (pid {proc.pid}, nice {nice}); log: {work_dir / 'train.log'}")
    return 0


def stop(timeout: float, work_dir: Path = WORK_DIR) -> int:
    pid = running_pid(work_dir)
    if pid is None:
        print("not training")
        return 0
    os.kill(pid, signal.SIGTERM)
    print(f"asked pid {pid} to stop; waiting for it to finish its step and save ...", flush=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(work_dir) is None:
            print("stopped; last lines of the log:")
            print(_tail(work_dir, 8))
            (work_dir / "train.pid").unlink(missing_ok=True)
            return 0
        time.sleep(1)
    print(f"error: pid {pid} still running after {timeout:.0f} s", file=sys.stderr)
    return 1


def _tail(work_dir: Path, n: int) -> str:
    try:
        return "\n".join((work_dir / "train.log").read_text().splitlines()[-n:])
    except OSError:
        return "(no log)"


def status(work_dir: Path = WORK_DIR) -> int:
    pid = running_pid(work_dir)
    print(f"training (pid {pid})" if pid else "not training")
    print(_tail(work_dir, 5))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model background", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("start", help="start or resume training at nice 19 (extra arguments go to model.train)")
    s.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    s.add_argument("--run-dir", type=Path, default=RUN_DIR, help="training state, log and plot (committed)")
    s.add_argument("--weights", type=Path, default=WEIGHTS, help="the float16 weights file (committed)")
    s.add_argument("--nice", type=int, default=19, choices=range(0, 20), metavar="0..19",
                   help="CPU priority (19, the lowest, is what keeps tests and benchmarks at full speed)")
    st = sub.add_parser("status", help="is it running, and its last log lines")
    t = sub.add_parser("stop", help="SIGTERM, then wait until the checkpoint is saved and the run has exited")
    t.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the save")
    for q in (s, st, t):
        q.add_argument("--work-dir", type=Path, default=WORK_DIR, help="pid file, process log, grid (git-ignored)")
    args, extra = p.parse_known_args(argv)
    if extra and args.command != "start":
        p.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "start":
        return start(extra, args.data, args.run_dir, args.weights, args.work_dir, args.nice)
    if args.command == "stop":
        return stop(args.timeout, args.work_dir)
    return status(args.work_dir)


if __name__ == "__main__":
    sys.exit(main())
