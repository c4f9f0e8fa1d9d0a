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

from tests.browser.sitekit import (CASES, CONTENT_SIZE, PY, ROOT, STATIC, STYLE2_SIZE, STYLE_SIZE, build_site, find_article,
                                   pattern, write_test_page)
from tests.conftest import serve_directory

HERE = Path(__file__).resolve().parent
DEFAULT_CKPT = ROOT / "model" / "checkpoints" / "sanet-vgg16-init.safetensors"


@pytest.fixture(scope="session")
def parity(tmp_path_factory):
    """A float32 TF.js export and Python's outputs for our own test images, from the same weights."""
    d = tmp_path_factory.mktemp("parity")
    content, style, style2 = d / "content.png", d / "style.png", d / "style2.png"
    Image.fromarray(pattern(*CONTENT_SIZE, seed=1)).save(content)
    Image.fromarray(pattern(*STYLE_SIZE, seed=2)).save(style)
    Image.fromarray(pattern(*STYLE2_SIZE, seed=3)).save(style2)
    cmd = [PY, str(HERE / "reference.py"), "--out", str(d / "model"), "--weights", str(DEFAULT_CKPT)]
    for name, (it, res, alpha, mix) in CASES.items():
        cmd += ["--case", name, str(content), str(style), str(style2) if mix is not None else "-", str(it), str(res),
                str(alpha), str(mix if mix is not None else 1)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return SimpleNamespace(dir=d, model=d / "model", content=content, style=style, style2=style2,
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


class ServedSite(SimpleNamespace):
    """The built site on localhost: base URL, requests seen by the server, output folder, test page URLs."""

    @property
    def article(self) -> str:
        """URL of the article; fails (the test, not the session) when no built page embeds the stylizer."""
        assert self.article_path is not None, (
            "no page of the built site embeds the stylizer (<div class=\"stylizer\" ...>): the article lost "
            "its {% include stylizer.html %} or templates/stylizer.html broke")
        return self.base + self.article_path.relative_to(self.root).as_posix()


@pytest.fixture(scope="session")
def site(tmp_path_factory, shipped_model):
    """The real site, built by site_builder and served under /repo/ on localhost, plus test pages."""
    out = tmp_path_factory.mktemp("site") / "out"
    with serve_directory(out, "/repo/") as (base, requests):
        build_site(out, base)
        if shipped_model != STATIC / "model":
            shutil.rmtree(out / "model", ignore_errors=True)
            shutil.copytree(shipped_model, out / "model")
        article = find_article(out)
        write_test_page(out, "widgets.html", "model/manifest.json", widgets=2)
        yield ServedSite(base=base, requests=requests, root=out, article_path=article, widgets=base + "widgets.html")


@pytest.fixture(scope="session")
def parity_page(site, parity):
    """A page on the served site whose widget loads the float32 parity export."""
    shutil.copytree(parity.model, site.root / "parity-model", dirs_exist_ok=True)
    return site.base + write_test_page(site.root, "parity.html", "parity-model/manifest.json")
