"""Fixtures shared by the model tests: a tiny copy of the real training images."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from model.data import CONTENT_DIR, STYLE_DIR, list_images

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """6 training + 4 held-out images of each kind, copied from ../shared/data (at test time, never committed)."""
    assert SHARED.is_dir(), f"the tests need the training images at {SHARED}"
    root = tmp_path_factory.mktemp("data")
    for kind in (CONTENT_DIR, STYLE_DIR):
        (root / kind).mkdir()
        for p in list_images(SHARED / kind, "train")[:6] + list_images(SHARED / kind, "held-out")[:4]:
            shutil.copy(p, root / kind / p.name)
    return root
