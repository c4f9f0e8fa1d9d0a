"""Fixtures for the stylizer browser tests: a float32 model with TensorFlow references, and the served site."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from tests.browser.sitekit import (CASES, PY, ROOT, STATIC, build_site, builder_available, find_article, hand_made_site,
                                   pattern, write_test_page)
from tests.conftest import serve_directory

HERE = Path(__file__).resolve().parent
DEFAULT_CKPT = ROOT / "model" / "checkpoints" / "sanet-vgg16-init.safetensors"


@pytest.fixture(scope="session")
def parity(tmp_path_factory):
    """A float32 TF.js export and TensorFlow's outputs for our own test images, from the same weights."""
    d = tmp_path_factory.mktemp("parity")
    content, style = d / "content.png", d / "style.png"
    Image.fromarray(pattern(192, 256, seed=1)).save(content)
    Image.fromarray(pattern(300, 300, seed=2)).save(style)   # downscaled to 256 in both pipelines
    cmd = [PY, str(HERE / "reference.py"), "--out", str(d / "model"), "--weights", str(DEFAULT_CKPT)]
    for name, (it, res, alpha) in CASES.items():
        cmd += ["--case", name, str(content), str(style), str(it), str(res), str(alpha)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return SimpleNamespace(dir=d, model=d / "model", content=content, style=style,
                           refs={n: np.load(d / f"{n}.npy") for n in CASES})


@pytest.fixture(scope="session")
def shipped_model(tmp_path_factory):
    """The model the article loads: static/model when exported there, else a fresh export of the default weights.

    STYLIZER_TEST_MODEL=DIR tests against another export (a folder holding manifest.json)."""
    if os.environ.get("STYLIZER_TEST_MODEL"):
        return Path(os.environ["STYLIZER_TEST_MODEL"])
    shipped = STATIC / "model"
    if (shipped / "manifest.json").exists():
        return shipped
    out = tmp_path_factory.mktemp("shipped") / "model"
    r = subprocess.run([PY, "-m", "model", "export", "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def site(tmp_path_factory, shipped_model):
    """The site served under /repo/ on localhost: built by site_builder when it is there, plus test pages."""
    out = tmp_path_factory.mktemp("site") / "out"
    with serve_directory(out, "/repo/") as (base, requests):
        if builder_available():
            build_site(out, base)
            if shipped_model != STATIC / "model":
                shutil.rmtree(out / "model", ignore_errors=True)
                shutil.copytree(shipped_model, out / "model")
        else:  # until the builder lands: the same layout by hand
            hand_made_site(out, shipped_model)
        article = find_article(out)
        if article is None:
            article = out / write_test_page(out, "article.html", "model/manifest.json")
        write_test_page(out, "widgets.html", "model/manifest.json", widgets=2)
        yield SimpleNamespace(base=base, requests=requests, root=out,
                              article=base + article.relative_to(out).as_posix(), widgets=base + "widgets.html")


@pytest.fixture(scope="session")
def parity_page(site, parity):
    """A page on the served site whose widget loads the float32 parity export."""
    shutil.copytree(parity.model, site.root / "parity-model", dirs_exist_ok=True)
    return site.base + write_test_page(site.root, "parity.html", "parity-model/manifest.json")
