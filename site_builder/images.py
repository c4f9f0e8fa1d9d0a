"""Intrinsic image sizes, so every `<img>` carries width and height and the page does not jump as it loads."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

from PIL import Image

_LENGTH = re.compile(r"^\s*([0-9.]+)\s*(px)?\s*$")


class ImageError(ValueError):
    pass


def _svg_number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ImageError(f"SVG {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ImageError(f"SVG {what} {text!r} is not a usable size")
    return value


def _svg_size(path: Path) -> tuple[int, int]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ImageError(f"not a valid SVG file ({exc})") from None
    width, height = root.get("width"), root.get("height")
    if width and height:
        w, h = _LENGTH.match(width), _LENGTH.match(height)
        if w and h:
            return round(_svg_number(w[1], "width")), round(_svg_number(h[1], "height"))
    view_box = root.get("viewBox")
    if view_box:
        parts = re.split(r"[\s,]+", view_box.strip())
        if len(parts) != 4:
            raise ImageError(f"SVG viewBox {view_box!r} is not four numbers")
        return round(_svg_number(parts[2], "viewBox width")), round(_svg_number(parts[3], "viewBox height"))
    raise ImageError("SVG has neither pixel width/height nor a viewBox, so its size is unknown")


@lru_cache(maxsize=4096)
def _cached_size(path: str, mtime_ns: int, size: int) -> tuple[int, int]:
    file = Path(path)
    if file.suffix.lower() == ".svg":
        return _svg_size(file)
    try:
        with Image.open(file) as image:
            return image.size
    except (OSError, SyntaxError) as exc:
        raise ImageError(f"cannot read image size ({exc})") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) in CSS pixels; cached until the file changes."""
    stat = path.stat()
    return _cached_size(str(path), stat.st_mtime_ns, stat.st_size)
