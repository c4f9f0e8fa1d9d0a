"""Hostile and broken input (issue 10): the builder never writes outside its output, never runs content as
code, never silently loses a page or a file, and answers every mistake with `file:line: message`."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from site_builder.build import build
from site_builder.errors import BuildFailed
from site_builder.incremental import IncrementalBuilder
from site_builder.serve import PreviewApp
from tests.conftest import free_port
from tests.site.helpers import CONFIG, PY, ROOT, make_site, png, run_builder, tree

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and modification time: a write anywhere shows up."""
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def fails_cleanly(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def page(front: str, body: str = "Text.\n") -> str:
    return f"---\n{front}\n---\n\n{body}"


# -- 1, 2: nothing is written outside the output, and nothing at all for a failed build ------------------

ESCAPES = ["/../templates/post.html", "/../../../../../../tmp/escaped-{tag}/", "/a/../../x/", "/a/./b/",
           "/a//b/", "/a\\\\b/", "/a\\x01b/", "/%2e%2e/%2e%2e/x-{tag}/"]


@pytest.mark.parametrize("permalink", ESCAPES)
def test_a_permalink_cannot_leave_the_output(tmp_path, permalink):
    tag = uuid.uuid4().hex
    permalink = permalink.format(tag=tag)
    site = make_site(tmp_path, {"content/evil.md": page(f'title: Evil\npermalink: "{permalink}"')})
    before = snapshot(tmp_path)
    result = run_builder("build", "--source", str(site))
    fails_cleanly(result, "content/evil.md:3: ")
    assert snapshot(tmp_path) == before, "the failed build wrote files"
    assert not Path(f"/tmp/escaped-{tag}").exists() and not Path(f"/x-{tag}").exists()
    fails_cleanly(run_builder("check", "--source", str(site)), "content/evil.md:3: ")


def test_serve_rebuilds_cannot_leave_the_output_either(tmp_path):
    site = make_site(tmp_path)
    builder = IncrementalBuilder(site, tmp_path / "out")
    builder.full()
    template = (site / "templates/post.html").read_bytes()
    about = site / "content/about.md"
    about.write_text(page('title: About\npermalink: "/../site/templates/post.html"'))
    os.utime(about, ns=(about.stat().st_atime_ns, about.stat().st_mtime_ns + 5_000_000_000))
    with pytest.raises(BuildFailed, match="content/about.md:3: 'permalink'"):
        builder.update()
    assert (site / "templates/post.html").read_bytes() == template


def test_a_failed_build_writes_nothing_anywhere(tmp_path):
    """One page fails (a broken link) while another would write beside the site: nothing may appear."""
    site = make_site(tmp_path, {"content/broken.md": page("title: B", "[x](/repo/nowhere/)\n"),
                                "content/escape.md": page('title: E\npermalink: "/../escaped/"')})
    before = snapshot(tmp_path)
    result = run_builder("build", "--source", str(site))
    assert result.returncode == 1
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "escaped").exists() and not list(site.glob("_site*"))


def test_the_writer_refuses_paths_outside_its_directory(tmp_path):
    from site_builder.output import write_file

    root = tmp_path / "out"
    root.mkdir()
    for bad in ("../x.html", "/etc/x.html", "a/../../x.html", "a\0b"):
        with pytest.raises(BuildFailed, match="outside the output directory"):
            write_file(root, bad, b"x")
    assert list(tmp_path.iterdir()) == [root] and not any(root.iterdir())


# -- 3: content is Liquid, and Liquid cannot run code ---------------------------------------------------

@pytest.mark.parametrize("expression", [
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ site.__class__.__mro__ }}",
    "{{ page.title.__class__ }}",
    "{% include stylizer.html x=cycler.__init__ %}",
])
def test_liquid_in_markdown_cannot_reach_python(tmp_path, expression):
    site = make_site(tmp_path, {"content/about.md": page("title: About", f"Before.\n\n{expression}\n")})
    with pytest.raises(BuildFailed) as info:
        build(site)
    (error,) = info.value.errors
    assert (error.path, error.line) == ("content/about.md", 7)
    assert not (site / "_site").exists()


def test_liquid_output_is_data_not_code(tmp_path):
    site = make_site(tmp_path, {"content/about.md": page("title: About\nnote: \"{{ 7 | times: 6 }}\"",
                                                         "{{ page.note }} and {{ 7 | times: 6 }}\n")})
    build(site)
    assert "<p>{{ 7 | times: 6 }} and 42</p>" in (site / "_site/about/index.html").read_text()
