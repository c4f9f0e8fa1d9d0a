"""CPU training speed: one training step at several crop sizes, each part of the network timed, and a profile.

    python bench/train_speed.py                         # step time at 128, 192, 256 px (batch 8), bf16 + channels_last
    python bench/train_speed.py --parts                 # decoder fwd+bwd, encoder with / without input gradients
    python bench/train_speed.py --profile 256           # torch.profiler's top ops for one step at 256 px
    python bench/train_speed.py --precision float32     # the same in float32 (the 3.3x comparison)
    python bench/train_speed.py --sizes 128 --identity-images 8 4 2 0   # identity losses on part of the batch

Medians over --repeats timed runs after one warm-up run. Synthetic inputs (random crops are a data-loading
matter, measured separately by the train loop's own it/s). Pause any background training while this runs
(`kill -STOP <pid>` / `kill -CONT <pid>`), or the figures measure the contention.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.cpu_memory import keep_freed_memory  # noqa: E402
from model.losses import LossWeights, sanet_losses, weighted_total  # noqa: E402
from model.sanet_torch import SANetModel  # noqa: E402


def make_model(encoder: str, channels_last: bool) -> SANetModel:
    torch.manual_seed(0)
    model = SANetModel(encoder)   # random encoder weights: the cost does not depend on their values
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.train()


def timed(fn, repeats: int) -> tuple[float, float, float, float]:
    """(min, median, max) wall seconds and the median CPU seconds of the process (less sensitive to other
    load on the machine than wall time; with N threads busy it is about N x wall)."""
    fn()                                       # warm-up: oneDNN picks its kernels on first use
    times, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(times), statistics.median(times), max(times), statistics.median(cpu)


def images(n: int, size: int, channels_last: bool) -> torch.Tensor:
    x = torch.rand(n, 3, size, size)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def step_fn(model: SANetModel, batch: int, size: int, amp: bool, channels_last: bool, compiled: bool = False,
            identity_images: int | None = None):
    loss_fn = torch.compile(sanet_losses) if compiled else sanet_losses   # as model.train --compile does
    params = list(model.transform.parameters()) + list(model.decoder.parameters())
    opt = torch.optim.Adam(params, lr=1e-4)
    content, style = images(batch, size, channels_last), images(batch, size, channels_last)

    def run():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            terms = loss_fn(model, content, style, identity_images)
        total = weighted_total(terms, LossWeights())
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
    return run


def part_fns(model: SANetModel, n: int, size: int, amp: bool, channels_last: bool) -> dict:
    """The three parts of a step whose cost the issue measured per part, on n images."""
    x = images(n, size, channels_last)
    t = torch.randn(n, 512, size // 8, size // 8)
    if channels_last:
        t = t.contiguous(memory_format=torch.channels_last)
    ac = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp)  # noqa: E731

    def decoder():
        with ac():
            out = model.decoder(t)
        out.float().sum().backward()

    def encoder_grad():
        xi = x.clone().requires_grad_(True)
        with ac():
            f = model.encode(xi)
        sum(v.float().mean() for v in f.values()).backward()

    def encoder_nograd():
        with torch.no_grad(), ac():
            model.encode(x)
    return {"decoder fwd+bwd": decoder, "encoder with input grad": encoder_grad,
            "encoder no grad": encoder_nograd}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 192, 256])
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--encoder", default="vgg19", choices=("vgg19", "vgg16"))
    p.add_argument("--precision", choices=("bf16", "float32"), default="bf16")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--parts", action="store_true", help="time the three parts on --part-images images instead")
    p.add_argument("--part-images", type=int, default=24)
    p.add_argument("--profile", type=int, default=None, metavar="SIZE", help="profile one step at SIZE px")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--identity-images", type=int, nargs="+", default=[None], metavar="K",
                   help="identity losses on K of the batch's pairs (model.train --identity-images); one row each")
    p.add_argument("--compile", action="store_true", help="torch.compile the loss computation (the warm-up compiles)")
    p.add_argument("--malloc", choices=("keep", "default"), default="keep",
                   help="keep: what model.train does (model/cpu_memory.py); default: glibc's own behaviour")
    args = p.parse_args()
    kept = keep_freed_memory() if args.malloc == "keep" else False
    if args.threads:
        torch.set_num_threads(args.threads)
    amp = args.precision == "bf16"
    channels_last = amp
    model = make_model(args.encoder, channels_last)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.encoder}, "
          f"{'bf16 autocast + channels_last' if amp else 'float32'}, malloc "
          f"{'keeps freed memory' if kept else 'glibc default (mmap above 32 MiB)'}"
          f"{', torch.compile' if args.compile else ''}", flush=True)

    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        run = step_fn(model, args.batch_size, args.profile, amp, channels_last)
        run()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return 0
    for size in args.sizes:
        if args.parts:
            for name, fn in part_fns(model, args.part_images, size, amp, channels_last).items():
                lo, med, hi, cpu = timed(fn, args.repeats)
                print(f"{size:4d} px  {name:<24} {med:7.2f} s  (min {lo:.2f}, max {hi:.2f}; CPU {cpu:.2f} s; "
                      f"{args.part_images} images)", flush=True)
        else:
            for k in args.identity_images:
                started = time.perf_counter()
                run = step_fn(model, args.batch_size, size, amp, channels_last, args.compile, k)
                lo, med, hi, cpu = timed(run, args.repeats)
                if args.compile:
                    print(f"{size:4d} px  compile + warm-up + {args.repeats} steps: "
                          f"{time.perf_counter() - started:.0f} s")
                print(f"{size:4d} px  step {med:7.2f} s  ({1 / med:.3f} it/s; min {lo:.2f}, max {hi:.2f}; "
                      f"CPU {cpu:.2f} s; batch {args.batch_size}, identity on "
                      f"{args.batch_size if k is None else k})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
