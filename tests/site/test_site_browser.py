"""The built site in real Chromium: every page of the real repo site (plus a Jekyll post) served under
/repo/ like GitHub Pages, crawled for 404s, console errors and third-party requests; math, dark mode,
print and narrow screens checked by layout; and the live-reload preview server end to end."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.conftest import free_port, serve_directory
from tests.site.helpers import PY, ROOT, make_site, png, run_builder

FIXTURES = Path(__file__).parent / "fixtures"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}
SCREENSHOTS = Path(os.environ.get("SITE_BUILDER_SCREENSHOTS", "")) if os.environ.get("SITE_BUILDER_SCREENSHOTS") else None


@pytest.fixture(scope="module")
def repo_site(tmp_path_factory) -> Path:
    """The repository's own site (site.yml, content/, templates/, static/) plus a Jekyll-style post, built."""
    tmp = tmp_path_factory.mktemp("e2e")
    site = tmp / "site"
    site.mkdir()
    shutil.copy(ROOT / "site.yml", site / "site.yml")
    for name in ("content", "templates", "static"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, site / name, copy_function=os.link if _same_fs(ROOT, tmp) else shutil.copy2)
    (site / "content" / "posts").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "2024-01-15-jekyll-sample.md", site / "content/posts/2024-01-15-jekyll-sample.md")
    (site / "static/images").mkdir(parents=True, exist_ok=True)
    (site / "static/images/jekyll-sample.png").write_bytes(png(320, 200))
    out = tmp / "out"
    result = run_builder("build", "--source", str(site), "--base-url", "https://example.github.io/repo/",
                         "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def _same_fs(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def test_the_repository_site_builds_as_committed(tmp_path):
    result = run_builder("build", "--out", str(tmp_path / "out"), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    check = run_builder("check", cwd=ROOT)
    assert check.returncode == 0, check.stderr


def _guard(context, foreign: list[str]) -> None:
    """Let localhost through; record and block anything else (there must be nothing else)."""
    def route(route):
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()
    context.route("**/*", route)


def test_crawl_every_page(browser, repo_site):
    with serve_directory(repo_site, "/repo/") as (base, _):
        context = browser.new_context()
        foreign: list[str] = []
        _guard(context, foreign)
        page = context.new_page()
        console, failed = [], []
        page.on("console", lambda m: m.type == "error" and console.append(f"{page.url}: {m.text}"))
        page.on("pageerror", lambda e: console.append(f"{page.url}: {e}"))
        page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
        # The first page with a stylizer registers the site's service worker and reloads itself once to come
        # under it (isolation.js). Go through that first: a reload in the middle of a page's checks below
        # destroys the page they evaluate in (a flaky "Execution context was destroyed").
        page.goto(base + "posts/sanet-in-the-browser/", wait_until="load")
        page.wait_for_function("crossOriginIsolated", timeout=30_000)
        page.wait_for_load_state("load")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
        queue, seen, files = [base], set(), set()
        while queue:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            navigations.clear()
            response = page.goto(url, wait_until="load")
            assert response is not None and response.status == 200, url
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")  # let lazy images load
            page.wait_for_load_state("networkidle")
            assert page.locator("main").count() == 1 and page.locator("h1").count() == 1, url
            assert page.evaluate("document.documentElement.lang") and page.title(), url
            assert navigations == [url], f"{url} navigated again by itself: {navigations}"
            links = page.eval_on_selector_all(
                "a[href], img[src], script[src], link[rel=stylesheet], link[rel=icon], link[rel=alternate]",
                "els => els.map(e => e.href || e.src)")
            for link in links:
                link = urldefrag(link)[0]
                if not link.startswith(base):
                    continue  # other sites are linked to, never loaded (the route guard would see a load)
                if link.endswith("/") or link.endswith(".html"):
                    queue.append(link)
                else:
                    files.add(link)
        for link in sorted(files):  # feeds, images, stylesheets: fetched, not rendered
            r = context.request.get(link)
            assert r.status == 200, link
        assert any("/posts/jekyll-sample/" in u for u in seen)
        assert len(seen) >= 3
        assert failed == [] and console == [] and foreign == []
        # GitHub Pages answers a missing URL with 404.html: it must load its styles from any depth
        missing = page.goto(base + "no/such/page/", wait_until="networkidle")
        assert missing.status == 404 and "Page not found" in page.title()
        assert failed == [f"404 {base}no/such/page/"] and foreign == []
        assert page.evaluate("getComputedStyle(document.querySelector('.skip-link')).position") == "absolute"
        context.close()


def test_pages_read_well_narrow_dark_and_printed(browser, repo_site):
    with serve_directory(repo_site, "/repo/") as (base, _):
        # Service workers blocked: a widget may register one and reload the page once (cross-origin
        # isolation for WASM threads), which is not what this layout check is about.
        context = browser.new_context(viewport={"width": 360, "height": 740}, color_scheme="dark",
                                      service_workers="block")
        page = context.new_page()
        page.goto(base + "posts/jekyll-sample/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "horizontal overflow at 360 px"
        dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.emulate_media(color_scheme="light")
        light_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert dark_bg != light_bg
        assert page.evaluate("getComputedStyle(document.querySelector('.site-nav')).display") != "none"
        # landmarks a screen reader announces
        for role, name in (("banner", None), ("navigation", "Site"), ("main", None), ("contentinfo", None)):
            assert page.get_by_role(role, name=name).count() == 1, role
        page.emulate_media(media="print")
        assert page.evaluate("getComputedStyle(document.querySelector('.site-nav')).display") == "none"
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")
        # the image has its size before it loads: no layout shift
        img = page.locator("figure img")
        assert img.get_attribute("width") == "320" and img.get_attribute("loading") == "lazy"
        context.close()


MATH_PAGE = r"""---
title: Math check
---

Inline: $F_c^{r_{41}}$, $A^T$, $a \times b$ and $$\bar{F^i_c}$$ in a sentence.

$$
F_{cs}^i = \frac{1}{C(F)} \sum_{\forall j} \exp\left(\bar{F^i_c}^T \bar{F^j_s}\right) H(F_s^j)
$$
"""


def test_math_renders_in_chromium(browser, tmp_path):
    site = make_site(tmp_path, {"content/math.md": MATH_PAGE}, defaults=False)
    out = tmp_path / "out"
    result = run_builder("build", "--source", str(site), "--out", str(out))
    assert result.returncode == 0, result.stderr
    with serve_directory(out, "/repo/") as (base, _):
        page = browser.new_page(viewport={"width": 900, "height": 600}, device_scale_factor=2)
        page.goto(base + "math/")
        shot = tmp_path / "math.png"
        page.locator("article").screenshot(path=str(shot))
        if SCREENSHOTS:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, SCREENSHOTS / "math.png")
        boxes = page.evaluate("""() => {
          const box = e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height,
                                                                         cx: r.x + r.width / 2, cy: r.y + r.height / 2}; };
          const block = document.querySelector('math[display="block"]');
          const frac = block.querySelector('mfrac');
          const under = block.querySelector('munder, munderover');
          const inline = document.querySelector('math[display="inline"]');
          const ss = inline.querySelector('msubsup');
          const bar = document.querySelectorAll('math[display="inline"]')[3].querySelector('mover');
          return {block: box(block), num: box(frac.children[0]), den: box(frac.children[1]),
                  sum: box(under.children[0]), forall: box(under.children[1]),
                  base: box(ss.children[0]), sub: box(ss.children[1]), sup: box(ss.children[2]),
                  barBase: box(bar.children[0]), barMark: box(bar.children[1]),
                  mathCount: document.querySelectorAll('math').length,
                  displayStyle: getComputedStyle(block).display};
        }""")
        page.close()
    assert boxes["mathCount"] == 5 and boxes["displayStyle"].startswith("block")
    assert boxes["num"]["cy"] < boxes["den"]["cy"]  # \frac: numerator above denominator
    assert boxes["forall"]["cy"] > boxes["sum"]["cy"]  # \sum_{\forall j} in display: limit under the sign
    assert boxes["sub"]["x"] >= boxes["base"]["x"] + boxes["base"]["w"] * 0.5  # F_c^{r_41}: scripts to the right
    assert boxes["sub"]["cy"] > boxes["sup"]["cy"]  # ... subscript below superscript
    assert boxes["barMark"]["cy"] < boxes["barBase"]["cy"]  # \bar: the bar over F
    assert boxes["block"]["w"] > 200 and boxes["num"]["h"] > 0
    assert shot.stat().st_size > 5000


# -- live reload ------------------------------------------------------------------------------------------

def _wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(url)
        time.sleep(0.2)


def test_live_reload_and_error_overlay(browser, tmp_path):
    site = make_site(tmp_path)
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([PY, "-m", "site_builder", "serve", "--port", str(port), "--source", str(site)],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        url = f"http://127.0.0.1:{port}/repo/about/"
        _wait_http(url)
        page = browser.new_page()
        frames: list[str] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
        page.goto(url)
        page.wait_for_function("() => !!window.LiveReload")
        deadline = time.monotonic() + 20
        while not any("hello" in f for f in frames):  # the reload channel is open
            assert time.monotonic() < deadline, "livereload never connected"
            page.wait_for_timeout(100)
        page.evaluate("window.__beforeEdit = true")
        about = site / "content/about.md"
        about.write_text("---\ntitle: About\n---\n\nLive edit number one.\n")
        page.wait_for_function("() => document.body.innerText.includes('Live edit number one')", timeout=20000)
        assert page.evaluate("window.__beforeEdit === undefined"), "the browser reloaded the page"

        about.write_text("---\ntitle: [About\n---\n\nBroken.\n")
        overlay = page.locator("#site-builder-error")
        overlay.wait_for(timeout=20000)
        assert "content/about.md:2: invalid YAML" in overlay.inner_text()
        assert "Live edit number one" in page.inner_text("main")  # still the last good build

        about.write_text("---\ntitle: About\n---\n\nLive edit number two.\n")
        page.wait_for_function("() => document.body.innerText.includes('Live edit number two')", timeout=20000)
        assert page.locator("#site-builder-error").count() == 0
        assert proc.poll() is None, "the server survived the failed build"
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "content/about.md:2: invalid YAML" in output and "still serving the last good build" in output
