"""Helpers for the stylizer browser tests: the site to serve, the models to load, test images, drivers."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
PY = sys.executable
# Parity cases: name -> (iterations, resolution, alpha, mix). Sizes force both pipelines to resize and pad: the
# 200x288 photo runs at its long side (288: Python maps its output back to the photo's size), padded to 208x288;
# the 300x437 style is fitted to 198x288 and padded to 208x288; the second style (437x300) to 288x198, padded
# to 288x208; the photo as a style (alpha < 1) is padded like the photo. mix None: one style, compared with
# TensorFlow's serving function; a mix: two styles, compared with the PyTorch pipeline.
CONTENT_SIZE, STYLE_SIZE, STYLE2_SIZE = (200, 288), (300, 437), (437, 300)
CASES = {
    "one_iteration": (1, 288, 1.0, None),
    "two_iterations_half_alpha": (2, 288, 0.5, None),
    "two_styles_mixed": (1, 288, 0.8, 0.35),
}


# ------------------------------------------------------------------------------------------- the site
def build_site(out: Path, base_url: str) -> None:
    """Build the real site with the project's builder (the README's command) into `out`."""
    r = subprocess.run([PY, "-m", "site_builder", "build", "--base-url", base_url, "--out", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"the site does not build:\n{r.stdout[-2000:]}{r.stderr[-3000:]}"


def find_bundle(site: Path) -> Path:
    """The stylizer bundle directory in a built site (the one holding main.js and worker.js)."""
    hits = [p.parent for p in site.rglob("main.js") if (p.parent / "worker.js").exists()]
    assert len(hits) == 1, f"expected one stylizer bundle in {site}, found {hits}"
    return hits[0]


def find_article(site: Path) -> Path | None:
    """The built page that embeds the widget (None when no page does: the article's tests then fail)."""
    for p in sorted(site.rglob("*.html")):
        if 'class="stylizer"' in p.read_text(errors="replace"):
            return p
    return None


def write_test_page(site: Path, name: str, model_url: str, widgets: int = 1, attrs: str = "") -> str:
    """Write `name` at the site root holding `widgets` widgets on `model_url`; returns its path under the site."""
    bundle = find_bundle(site).relative_to(site).as_posix()
    css = "css/stylizer.css" if (site / "css" / "stylizer.css").exists() else ""
    css = css or next((p.relative_to(site).as_posix() for p in site.rglob("stylizer*.css")), "")
    roots = "\n".join(f'<div class="stylizer" data-model="{model_url}" {attrs}></div>' for _ in range(widgets))
    (site / name).write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>stylizer test</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="{css}"></head>
<body><main>{roots}<script type="module" src="{bundle}/main.js"></script></main></body></html>""")
    return name


# ------------------------------------------------------------------------------------------- test images
def pattern(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth, colourful RGB test picture (uint8), made here: no outside images."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    chans = []
    for c in range(3):
        a, b, p = rng.uniform(2, 9, 3)
        chans.append(0.5 + 0.25 * np.sin(a * x * 6.28 + p) + 0.25 * np.cos(b * y * 6.28 + p * c))
    img = np.stack(chans, -1)
    img[int(height * 0.3):int(height * 0.6), int(width * 0.2):int(width * 0.5)] *= 0.4  # an edge or two
    return (img.clip(0, 1) * 255).round().astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_with_orientation(rgb: np.ndarray, orientation: int) -> bytes:
    img = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=92, exif=exif.tobytes())
    return buf.getvalue()


# ------------------------------------------------------------------------------------------- models
def standin_model(dest: Path) -> Path:
    subprocess.run([PY, str(Path(__file__).with_name("standin_model.py")), str(dest)], check=True,
                   capture_output=True)
    return dest


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def read_manifest(model_dir: Path) -> dict:
    return json.loads((model_dir / "manifest.json").read_text())
