"""The README's and the article's picture of results: shippable sample photos x sample paintings, stylized.

    .venv/bin/python scripts/results_grid.py --weights model/checkpoints/shipped.safetensors \
        --out static/images/results-grid.jpg

Only images from static/samples/ (licences recorded in its SOURCES.md) go in, never ../shared/data: the grid
is committed and published. Row 0 holds the paintings, column 0 the photos; cell (i, j) is photo i in
painting j's style, stylized by the PyTorch pipeline at --size px (what the widget computes, before 8-bit
quantization of the export).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "static" / "samples"
PHOTOS = ("chelsea.jpg", "coffee.jpg", "astronaut.jpg")
PAINTINGS = ("starry-night.jpg", "cafe-terrace.jpg", "harvest.jpg", "church-at-auvers.jpg")


def square(path: Path, size: int):
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        return ImageOps.fit(im.convert("RGB"), (size, size), Image.BICUBIC)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=ROOT / "model" / "checkpoints" / "shipped.safetensors")
    p.add_argument("--out", type=Path, default=ROOT / "static" / "images" / "results-grid.jpg")
    p.add_argument("--size", type=int, default=256, help="side of each cell (the stylization's resolution)")
    args = p.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    from model.pipeline import stylize
    from model.weights import load_checkpoint

    model, meta = load_checkpoint(args.weights)
    to_t = lambda im: torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)[None]  # noqa: E731
    photos = [square(SAMPLES / n, args.size) for n in PHOTOS]
    paintings = [square(SAMPLES / n, args.size) for n in PAINTINGS]
    s = args.size
    sheet = Image.new("RGB", ((len(paintings) + 1) * s, (len(photos) + 1) * s), "white")
    for j, im in enumerate(paintings):
        sheet.paste(im, ((j + 1) * s, 0))
    for i, photo in enumerate(photos):
        sheet.paste(photo, (0, (i + 1) * s))
        for j, painting in enumerate(paintings):
            out = stylize(model, to_t(photo), to_t(painting), max_resolution=s)[0]
            cell = Image.fromarray((out.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
            sheet.paste(cell, ((j + 1) * s, (i + 1) * s))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88)
    print(f"wrote {args.out} ({meta.get('description', '')}, step {meta.get('step')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
