"""Reading and writing images, with clear errors for files that are not usable images.

The size limits are checked from the header, before any pixel is decoded, so a file claiming 20000x20000 px
is refused at once instead of allocating gigabytes; an image larger than the resolution it will be run at is
reduced while it is decoded (JPEG's DCT scaling, else an integer box reduction in 8 bits), so a 50-megapixel
file never exists as float32. Any Pillow mode becomes 8-bit sRGB: 16-bit data is scaled, not clipped, and
transparent pixels show white, as in a browser on a white page.
"""
from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .architecture import MIN_SIDE

MAX_PIXELS = 50_000_000     # 50 MP: any camera photo; far above what the network is run at after resizing
MAX_SIDE = 20_000 - 1       # and no side of 20000 px or more, whatever the other side
# The files the CLI takes from a folder and training reads from its image folders.
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")   # "I": Pillow's 32-bit mode, which 16-bit files can open as


class ImageError(ValueError):
    """A user-supplied image cannot be used; the message names the file and the problem."""


def to_rgb(im: Image.Image) -> Image.Image:
    """`im` in any mode as a new 8-bit RGB image: 16-bit grey scaled to 8 bits (65535 -> 255), transparency
    (an alpha channel, or a transparent palette entry or colour) composited on white; other modes by Pillow."""
    if im.mode in _SIXTEEN_BIT:
        grey = np.asarray(im).astype(np.float32)
        return Image.fromarray(np.clip(np.round(grey / 257.0), 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return im.convert("RGB")


def image_size(path, what: str = "image") -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied), after the checks of `read_image`, from the
    header alone: nothing is decoded."""
    with _open(path, what) as im:
        width, height = im.size
        if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):   # rotated by 90 degrees: sides swap
            width, height = height, width
        return width, height


def read_image(path, what: str = "image", long_side: int | None = None) -> np.ndarray:
    """Read an image file as float32 RGB in [0, 1], shape (H, W, 3), EXIF orientation applied.

    With `long_side`, an image whose long side is at least twice that is reduced while decoding, by the
    largest integer factor that keeps its long side at or above `long_side` (callers then resize it exactly).
    """
    with _open(path, what) as im:
        width, height = im.size
        factor = max(width, height) // long_side if long_side else 1
        if factor >= 2:   # JPEG decodes at 1/2, 1/4 or 1/8 scale directly; other formats ignore this
            im.draft(im.mode, (math.ceil(width / factor), math.ceil(height / factor)))
        ImageOps.exif_transpose(im, in_place=True)               # decodes the pixels
        rgb = to_rgb(im)
        factor = max(rgb.size) // long_side if long_side else 1
        if factor >= 2:
            rgb = rgb.reduce(factor)
        return np.asarray(rgb, dtype=np.float32) / 255.0


@contextmanager
def _open(path, what: str):
    """The opened image (header read, size checked), with every Pillow failure as an ImageError naming `path`."""
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
                check_size(*im.size, path, what)
                yield im
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{what} {path}: not an image format Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{what} {path}: cannot decode the image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit


def check_size(width: int, height: int, path, what: str = "image") -> None:
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{what} {path}: {width}x{height} px is too small; the short side must be at least "
                         f"{MIN_SIDE} px")
    if max(width, height) > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageError(f"{what} {path}: {width}x{height} px is too large; the limit is {MAX_PIXELS:,} pixels "
                         f"and {MAX_SIDE} px a side (the image is not decoded)")


def writable_format(path) -> str | None:
    """The Pillow format that `path`'s extension names, if Pillow can write it (else None)."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    return fmt if fmt in Image.SAVE else None


def write_image(path, rgb: np.ndarray) -> None:
    """Write float RGB in [0, 1], shape (H, W, 3), to `path` (format from the extension); `rgb` is clipped in place."""
    path = Path(path)
    np.clip(rgb, 0.0, 1.0, out=rgb)
    rgb *= 255.0
    rgb += 0.5
    data = rgb.astype(np.uint8)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data, "RGB").save(path)
    except (ValueError, KeyError) as exc:   # unknown extension
        raise ImageError(f"output {path}: cannot write this format ({exc}); use .png or .jpg") from None
    except OSError as exc:
        raise ImageError(f"output {path}: cannot write ({exc.strerror or exc})") from None
