"""Make `model/checkpoints/shipped.safetensors` from a trained checkpoint and its held-out scores.

The first step of README "Shipping a checkpoint": the served model's metadata (and so the page's manifest,
via `python -m model export`) must carry the measured scores and training facts, never hand-typed ones.
The scores come from `python -m model evaluate --json` at 256 and 512 px; the CPU-hours from the run's log
(the last elapsed_s of every run). Refuses scores of another checkpoint or step, or too few pairs.

    .venv/bin/python scripts/ship_checkpoint.py --weights model/checkpoints/sanet-vgg19.safetensors \
        --scores runs/eval/vgg19-N-256.json runs/eval/vgg19-N-512.json --hardware "2-core AMD EPYC (AVX512-BF16)"
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.train import average_description  # noqa: E402

SHIPPED = ROOT / "model" / "checkpoints" / "shipped.safetensors"
LOG = ROOT / "model" / "checkpoints" / "training" / "train_log.csv"
MIN_PAIRS = 32
ORIGINAL_RELEASE_STYLE_VS_IDENTITY = 0.28   # README, Training: the original SANet release's own outputs


def cpu_hours(log: Path, step: int) -> float:
    """Wall hours that made the checkpoint: each run's last elapsed_s up to `step`, on the cores it ran on.

    Rows past `step` are left out: the background run goes on writing the log while a copy of an earlier
    checkpoint is being shipped."""
    last: dict[str, float] = {}
    with log.open() as f:
        for row in csv.DictReader(f):
            if int(row["step"]) <= step:
                last[row["run"]] = float(row["elapsed_s"])
    return round(sum(last.values()) / 3600, 1)


def same_file(recorded: str, weights: Path) -> bool:
    """`evaluate` records the path as it was given (relative to where it ran: the repository root, or here)."""
    return any((base / recorded).resolve() == weights.resolve() for base in (ROOT, Path.cwd()))


def scores_at(path: Path, weights: Path, step: int) -> dict:
    """The checkpoint's row of one `evaluate --json` file, with the identity row's style for the ratio."""
    data = json.loads(path.read_text())
    rows = {r["model"]: r for r in data["rows"]}
    identity = next((r for r in data["rows"] if r["step"] is None), None)
    mine = [r for r in data["rows"] if r["step"] is not None and same_file(r["model"], weights)]
    if identity is None or len(mine) != 1:
        raise SystemExit(f"{path}: no identity row, or not exactly one row for {weights.name} (rows: {list(rows)})")
    row = mine[0]
    if row["step"] != step:
        raise SystemExit(f"{path}: scores of step {row['step']}, but {weights} is at step {step}")
    if data["pairs"] < MIN_PAIRS:
        raise SystemExit(f"{path}: {data['pairs']} pairs; shipped scores need at least {MIN_PAIRS}")
    return {"content": round(row["content"], 4), "style": round(row["style"], 4),
            "identity_style": round(identity["style"], 4), "style_vs_identity": round(row["style_vs_identity"], 3),
            "pairs": data["pairs"], "size": data["size"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, required=True, help="the trained checkpoint (safetensors)")
    p.add_argument("--scores", type=Path, nargs=2, required=True, metavar="JSON",
                   help="`python -m model evaluate --json` files of this checkpoint at 256 and 512 px")
    p.add_argument("--hardware", required=True, help='where it trained, e.g. "2-core AMD EPYC (AVX512-BF16)"')
    p.add_argument("--log", type=Path, default=LOG, help="the run's train_log.csv (for the CPU-hours)")
    p.add_argument("--interim", action="store_true", help="ship it as an interim model (the page says so)")
    p.add_argument("--out", type=Path, default=SHIPPED)
    args = p.parse_args(argv)

    with safe_open(str(args.weights), "pt") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta = json.loads(header["meta"])
    step = meta["step"]
    scores = {f"at_{s['size']}": s for s in (scores_at(path, args.weights, step) for path in args.scores)}
    if set(scores) != {"at_256", "at_512"}:
        raise SystemExit(f"--scores: need one file at 256 px and one at 512 px, got {sorted(scores)}")
    hours = cpu_hours(args.log, step)
    encoder = header["encoder"].upper().replace("VGG", "VGG-")
    what = "Interim model: " if args.interim else ""
    meta["description"] = (f"{what}SANet with the ImageNet {encoder} encoder, {step:,} iterations on photos x paintings "
                           f"({hours} h on {args.hardware.split(' (')[0]})")
    if meta.get("ema"):   # a weight average (model.train --ema-decay) says so, and over about how many steps
        meta["description"] += f", {average_description(meta['ema']['decay'], meta['ema']['updates'])}"
    meta["interim"] = args.interim
    training = meta["training"]
    training.update(interim=args.interim, cpu_hours=hours, hardware=args.hardware, scores={
        **scores, "judge": "plain ImageNet VGG-16 (python -m model evaluate), held-out pairs",
        "original_release_style_vs_identity": ORIGINAL_RELEASE_STYLE_VS_IDENTITY})
    header["meta"] = json.dumps(meta, sort_keys=True)
    save_file(tensors, str(args.out), metadata=header)
    print(f"{args.out}: step {step}, {hours} h; 256 px {scores['at_256']['style_vs_identity']} x identity, "
          f"512 px {scores['at_512']['style_vs_identity']} x identity")
    return 0


if __name__ == "__main__":
    sys.exit(main())
