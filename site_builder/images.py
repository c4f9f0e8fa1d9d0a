"""Intrinsic image sizes, so every `<img>` carries width and height and the page does not jump as it loads."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

from PIL import Image

_LENGTH = re.compile(r"^\s*([0-9.]+)\s*(px)?\s*$")


class ImageError(ValueError):
    pass


def _svg_size(path: Path) -> tuple[int, int]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ImageError(f"not a valid SVG file ({exc})") from None
    width, height = root.get("width"), root.get("height")
    if width and height:
        w, h = _LENGTH.match(width), _LENGTH.match(height)
        if w and h:
            return round(float(w[1])), round(float(h[1]))
    view_box = root.get("viewBox")
    if view_box:
        parts = re.split(r"[\s,]+", view_box.strip())
        if len(parts) == 4:
            return round(float(parts[2])), round(float(parts[3]))
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
