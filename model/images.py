"""Reading and writing images for the CLI, with clear errors for files that are not usable images.

The size limits are checked from the header, before any pixel is decoded, so a file claiming 20000x20000 px
is refused at once instead of allocating gigabytes.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .architecture import MIN_SIDE

MAX_PIXELS = 50_000_000     # 50 MP: any camera photo; far above what the network is run at after resizing
MAX_SIDE = 20_000 - 1       # and no side of 20000 px or more, whatever the other side


class ImageError(ValueError):
    """A user-supplied image cannot be used; the message names the file and the problem."""


def read_image(path, what: str = "image") -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1], shape (H, W, 3), EXIF orientation applied."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{what} {path}: no such file")
    if not path.is_file():
        raise ImageError(f"{what} {path}: not a file")
    pillow_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None   # our check_size (stricter) runs on the header instead, naming the size
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:                      # reads the header only
                width, height = im.size
                check_size(width, height, path, what)
                im = ImageOps.exif_transpose(im)            # decodes the pixels
                rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{what} {path}: not an image format Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{what} {path}: cannot decode the image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    return rgb


def check_size(width: int, height: int, path, what: str = "image") -> None:
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{what} {path}: {width}x{height} px is too small; the short side must be at least "
                         f"{MIN_SIDE} px")
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(f"{what} {path}: {width}x{height} px is too large; the limit is {MAX_PIXELS:,} pixels "
                         f"and {MAX_SIDE} px a side (the image is not decoded)")


def write_image(path, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 1], shape (H, W, 3), to `path` (format from the extension)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    try:
        Image.fromarray(data, "RGB").save(path)
    except (ValueError, KeyError) as exc:   # unknown extension
        raise ImageError(f"output {path}: cannot write this format ({exc}); use .png or .jpg") from None


def load_square(path, side: int) -> np.ndarray:
    """An image resized so its short side is `side`, centre-cropped to side x side (for batches of statistics)."""
    with Image.open(path) as im:
        im = ImageOps.fit(im.convert("RGB"), (side, side), Image.Resampling.BICUBIC)
        return np.asarray(im, dtype=np.float32) / 255.0
