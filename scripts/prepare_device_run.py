"""Prepare a training run on the GPU machine: the frozen encoder and as many training JPEGs as its payload holds.

    .venv/bin/python scripts/prepare_device_run.py [--seed N] [--encoder vgg19|vgg16] [other `model.data prepare` options]

A device call sends the working tree (tracked files and untracked ones git does not ignore) plus the carried
paths, at most 64 MiB in all. This writes the encoder file, counts what the tree, the encoder, the checkpoint
and the training state take (the checkpoint and the state travel in the tree once committed; before they
exist, at their known sizes), and runs `python -m model.data prepare` with the MiB that are left
(`--budget-mib`), or says that nothing is left.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.data import ENCODER_FILE, export_encoder, main as data_main  # noqa: E402

PAYLOAD_MIB = 62          # what one device call may send (64 MiB), less a margin
KNOWN_SIZES = {"encoder": 20_000_000, "weights": 16_100_000, "training state": 8_500_000}  # bytes, before they exist


def tree_files(repo: Path) -> list[Path]:
    """What the device tool sends besides carried paths: tracked and untracked-not-ignored files."""
    out = subprocess.run(["git", "ls-files", "-z", "-c", "-o", "--exclude-standard"], cwd=repo, check=True,
                         capture_output=True).stdout.decode()
    return [(repo / f).resolve() for f in out.split("\0") if f and (repo / f).is_file()]


def payload_parts_mib(repo: Path, encoder: Path, weights: Path, state: Path) -> dict[str, float]:
    """What a device run sends besides the training JPEGs, in MiB: the tree, then each file that travels with
    it (0 when it is already in the tree; its known size when it does not exist yet)."""
    tree = tree_files(repo)
    parts = {"tree": sum(p.stat().st_size for p in tree)}
    for name, path in (("encoder", encoder), ("weights", weights), ("training state", state)):
        path = (repo / path).resolve()
        parts[name] = 0 if path in tree else (path.stat().st_size if path.exists() else KNOWN_SIZES[name])
    return {k: v / 2**20 for k, v in parts.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                epilog="Other options go to `python -m model.data prepare` (see its --help).")
    p.add_argument("--encoder", choices=("vgg19", "vgg16"), default="vgg19", help="the frozen encoder to carry")
    p.add_argument("--encoder-out", type=Path, default=None, help=f"default: data-local/{ENCODER_FILE}")
    p.add_argument("--weights", type=Path, default=None,
                   help="the checkpoint the device run resumes from and writes (travels in the tree; default: "
                        "model/checkpoints/sanet-ENCODER.safetensors)")
    p.add_argument("--state", type=Path, default=Path("model/checkpoints/training/train_state.pt"),
                   help="the device run's training state (travels in the tree once committed)")
    p.add_argument("--no-encoder", action="store_true", help="do not (re)write the encoder file")
    args, rest = p.parse_known_args(argv)
    encoder_out = args.encoder_out or Path("data-local") / ENCODER_FILE.format(encoder=args.encoder)
    weights = args.weights or Path(f"model/checkpoints/sanet-{args.encoder}.safetensors")
    if not args.no_encoder:
        size = export_encoder(encoder_out, args.encoder)
        print(f"encoder: {encoder_out} ({size / 2**20:.1f} MiB)")
    parts = payload_parts_mib(Path.cwd(), encoder_out, weights, args.state)
    budget = PAYLOAD_MIB - sum(parts.values())
    print(f"device payload: {', '.join(f'{k} {v:.1f}' for k, v in parts.items())} MiB; "
          f"{budget:.1f} MiB left for training images (limit {PAYLOAD_MIB} MiB)")
    if budget < 2:
        print(f"error: only {budget:.1f} MiB of the device payload is left for images; make room "
              f"(is a checkpoint besides {weights} in the tree?)", file=sys.stderr)
        return 2
    return data_main(["prepare", "--no-encoder", "--budget-mib", f"{budget:.3f}", *rest])


if __name__ == "__main__":
    sys.exit(main())
