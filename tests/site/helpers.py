"""Fixture sites for the site_builder tests: small, real sites on disk built with the real templates."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
BASE = "https://example.github.io/repo/"

CONFIG = f"""title: Fixture site
author: Test Author
description: A small site for tests
base_url: {BASE}
language: en
navigation:
  - title: Home
    url: /
"""

POST = """---
title: First post
date: 2024-05-01
summary: The first post.
tags: [one, two]
---

Intro paragraph with $x^2$ math and a [link to the about page](/about/).

## Section one

Text.[^1]

[^1]: A note.
"""

ABOUT = """---
title: About
---

About this site. Back to [the first post](posts/2024-05-01-first.md#section-one).
"""


def make_site(root: Path, files: dict[str, str | bytes] | None = None, config: str = CONFIG,
              defaults: bool = True) -> Path:
    """A site directory with the repo's real templates and CSS, a post and an about page (unless
    `defaults` is False), plus `files` (path -> text or bytes)."""
    site = root / "site"
    (site / "content").mkdir(parents=True)
    shutil.copytree(ROOT / "templates", site / "templates")
    (site / "static" / "css").mkdir(parents=True)
    shutil.copy(ROOT / "static" / "css" / "site.css", site / "static" / "css" / "site.css")
    shutil.copy(ROOT / "static" / "favicon.svg", site / "static" / "favicon.svg")
    (site / "site.yml").write_text(config)
    all_files: dict[str, str | bytes] = {}
    if defaults:
        all_files.update({"content/posts/2024-05-01-first.md": POST, "content/about.md": ABOUT})
    all_files.update(files or {})
    for rel, data in all_files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    return site


def png(width: int, height: int, colour: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def run_builder(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m site_builder ARGS` as a user would run it."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([PY, "-m", "site_builder", *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes, for comparing whole builds."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
