"""Make the stylizer's sample gallery (static/samples/): photos from scikit-image's bundled data (public domain
or CC0, see static/samples/SOURCES.md) and style images drawn by this script. Deterministic.

Usage: python scripts/make_samples.py PATH/TO/skimage/data   (the `skimage/data` folder of the
scikit-image wheel: `pip download --no-deps scikit-image` and unzip it; scikit-image need not be installed)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "static" / "samples"
LONG_SIDE = 384
PHOTOS = {"astronaut.png": "astronaut.jpg", "coffee.png": "coffee.jpg", "chelsea.png": "chelsea.jpg"}


def fit(img: Image.Image, long_side: int = LONG_SIDE) -> Image.Image:
    scale = long_side / max(img.size)
    return img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)


def swirls(size: int = LONG_SIDE) -> Image.Image:
    """Curling brush-like strokes in blues and yellows: a flow field advected texture."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size] / size
    noise = rng.random((size, size))
    acc = np.zeros((size, size))
    px, py = x.copy(), y.copy()
    for _ in range(24):  # line-integral convolution along a swirling field
        ang = 6.0 * np.sin(3.1 * px + 1.7) * np.cos(2.3 * py) + 4.0 * np.hypot(px - 0.65, py - 0.3)
        px = (px + 0.004 * np.cos(ang)) % 1.0
        py = (py + 0.004 * np.sin(ang)) % 1.0
        acc += noise[(py * size).astype(int) % size, (px * size).astype(int) % size]
    t = (acc / 24 - 0.5) * 3 + 0.5 * np.sin(5 * np.hypot(x - 0.65, y - 0.3)) + 0.5
    t = np.clip(t, 0, 1)
    palette = np.array([[16, 30, 80], [40, 80, 160], [90, 140, 200], [230, 200, 80], [250, 240, 170]], float)
    idx = t * (len(palette) - 1)
    lo = np.floor(idx).astype(int).clip(0, len(palette) - 2)
    f = (idx - lo)[..., None]
    rgb = palette[lo] * (1 - f) + palette[lo + 1] * f
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def mosaic(width: int = LONG_SIDE, height: int = 288) -> Image.Image:
    """Voronoi tiles in warm colours with dark grout, like a stained-glass window."""
    rng = np.random.default_rng(2)
    pts = rng.random((90, 2)) * [height, width]
    cols = rng.choice(np.array([[200, 60, 40], [230, 150, 40], [60, 110, 60], [40, 70, 140], [220, 210, 170],
                                [120, 40, 90]], float), size=90)
    y, x = np.mgrid[0:height, 0:width]
    d = (y[..., None] - pts[:, 0]) ** 2 + (x[..., None] - pts[:, 1]) ** 2
    order = np.sort(d, axis=-1)
    nearest = np.argmin(d, axis=-1)
    edge = (np.sqrt(order[..., 1]) - np.sqrt(order[..., 0])) < 2.5
    shade = 0.85 + 0.15 * np.sin(x / 7.0 + y / 11.0)[..., None]
    rgb = cols[nearest] * shade
    rgb[edge] = [25, 20, 20]
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def main(data: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for src, dst in PHOTOS.items():
        fit(Image.open(data / src).convert("RGB")).save(OUT / dst, quality=88, optimize=True)
    fit(Image.open(data / "hubble_deep_field.jpg").convert("RGB")).save(OUT / "hubble.jpg", quality=88, optimize=True)
    swirls().save(OUT / "swirls.jpg", quality=90, optimize=True)
    mosaic().save(OUT / "mosaic.jpg", quality=90, optimize=True)
    print("wrote", sorted(p.name for p in OUT.glob("*.jpg")))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
