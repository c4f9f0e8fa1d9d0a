"""Whole builds of fixture sites: outputs, Jekyll compatibility, determinism, and the CLI."""
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from site_builder.build import build
from site_builder.errors import BuildFailed
from tests.site.helpers import BASE, PY, ROOT, make_site, png, run_builder, tree

FIXTURES = Path(__file__).parent / "fixtures"
JEKYLL_POST = (FIXTURES / "2024-01-15-jekyll-sample.md").read_text()


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path, {
        "content/posts/2024-01-15-jekyll-sample.md": JEKYLL_POST,
        "static/images/jekyll-sample.png": png(320, 200),
        "content/index.md": "---\ntitle: Home\n---\n\nWelcome.\n",
        # the real widget (templates/stylizer.html, static/stylizer/) is exercised by the end-to-end test
        "templates/stylizer.html": '<div class="stylizer" data-model="{{ site.baseurl }}/model/manifest.json">'
                                   '<p>The stylizer will appear here.</p></div>\n',
    })


def test_build_writes_every_output(site):
    report = build(site)
    out = site / "_site"
    files = set(tree(out))
    assert {"index.html", "404.html", "feed.xml", "sitemap.xml", "robots.txt", "about/index.html",
            "posts/first/index.html", "posts/jekyll-sample/index.html", "images/jekyll-sample.png"} <= files
    assert any(f.startswith("css/site.") and f.endswith(".css") for f in files)
    assert any(f.startswith("css/pygments.") for f in files)
    assert report.pages == 5  # home, about, two posts, 404
    post = (out / "posts/first/index.html").read_text()
    assert '<link rel="canonical" href="https://example.github.io/repo/posts/first/">' in post
    assert '<meta property="og:title" content="First post">' in post
    assert '<a href="/repo/about/">link to the about page</a>' in post  # root-relative link got the base path
    assert '<nav class="toc"' not in post  # one h2: no contents list (see the next test)
    about = (out / "about/index.html").read_text()
    assert '<a href="/repo/posts/first/#section-one">' in about  # .md link mapped to the page URL
    sitemap = ET.fromstring((out / "sitemap.xml").read_bytes())
    locs = [e.text for e in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert f"{BASE}posts/first/" in locs and not any("404" in loc for loc in locs)


def test_contents_list_links_every_h2_and_nests_h3s(site):
    (site / "content/posts/2024-05-02-long.md").write_text(
        "---\ntitle: Long\n---\n\nIntro.\n\n## First part\n\nText.\n\n### A detail\n\nMore.\n\n"
        "## Second part\n\nEnd.\n")
    build(site)
    html = (site / "_site/posts/long/index.html").read_text()
    nav = ET.fromstring(re.search(r'<nav class="toc".*?</nav>', html, re.S)[0])
    top = nav.find("ol")
    entries = [(li.find("a").get("href"), li.find("a").text, [(c.find("a").get("href"), c.find("a").text)
                                                             for c in li.findall("ol/li")]) for li in top.findall("li")]
    assert entries == [("#first-part", "First part", [("#a-detail", "A detail")]),
                       ("#second-part", "Second part", [])]
    for anchor in ("first-part", "a-detail", "second-part"):
        assert f'id="{anchor}"' in html


def test_jekyll_post_drops_in_unchanged(site):
    build(site)
    html = (site / "_site/posts/jekyll-sample/index.html").read_text()
    assert '<a href="/repo/">home page</a>' in html and '<a href="/repo/feed.xml">feed</a>' in html
    assert ('<img src="/repo/images/jekyll-sample.png" alt="A sample picture" width="320" height="200" '
            'loading="lazy" decoding="async"><figcaption>A picture sized by the builder</figcaption>') in html
    assert '<div class="stylizer" data-model="/repo/model/manifest.json">' in html
    assert "<p><div" not in html  # the include replaced its paragraph
    assert html.count('display="inline"') == 1 and html.count('display="block"') == 1
    assert '<code class="language-python">' in html and "{{ name }}" in re.sub(r"<[^>]+>", "", html)
    assert "<code>{{ site.baseurl }}</code>" in html
    assert '<h1 class="page-title">A post written for Jekyll</h1>' in html  # layout: default


def test_same_input_same_bytes_and_times(site, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build(site, tmp_path / "a")
    os.utime(site / "content/about.md")  # touching a file changes nothing that is published
    build(site, tmp_path / "b", jobs=2)
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a == b
    assert {os.stat(p).st_mtime for p in (tmp_path / "b").rglob("*")} == {1700000000}
    feed = ET.fromstring(a["feed.xml"])
    assert feed.findtext("{http://www.w3.org/2005/Atom}updated") == "2024-05-01T00:00:00Z"


def test_builds_in_separate_processes_are_byte_identical(tmp_path):
    """Two processes with different hash seeds, time zones and worker counts: the same files, bytes and
    times, and the same archive as the deploy workflow uploads (its tar command, names sorted)."""
    files = {f"content/posts/p{i:03d}.md": f"---\ntitle: P{i}\ndate: 2024-01-{1 + i % 28:02d} 23:30:00 "
             f"{'+' if i % 2 else '-'}{i % 12:02d}00\ntags: [t{i % 5}, t{i % 7}, shared]\nsummary: S{i}\n---\n\n"
             f"Text $x_{{{i}}}$ and [next](/posts/p{(i + 1) % 60:03d}/).\n\n## Part {i}\n\nMore.\n"
             for i in range(60)}
    site = make_site(tmp_path, files)
    archives = []
    for name, seed, zone, jobs in (("a", "1", "UTC", "1"), ("b", "2", "Pacific/Kiritimati", "2")):
        out = tmp_path / name
        result = run_builder("build", "--source", str(site), "--out", str(out), "--jobs", jobs,
                             env={"PYTHONHASHSEED": seed, "TZ": zone, "SOURCE_DATE_EPOCH": "1700000000"})
        assert result.returncode == 0, result.stderr
        archive = tmp_path / f"{name}.tar"
        subprocess.run(["tar", "--dereference", "--hard-dereference", "--sort=name", "--directory", str(out),
                        "-cf", str(archive), "--exclude=.git", "--exclude=.github", "."], check=True)
        archives.append(archive.read_bytes())
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert archives[0] == archives[1]


def test_parallel_and_serial_builds_agree(tmp_path):
    files = {f"content/posts/p{i:03d}.md": f"---\ntitle: P{i}\ndate: 2024-01-{1 + i % 28:02d}\n---\n\n"
             f"Text $x_{{{i}}}$ and [next](/posts/p{(i + 1) % 60:03d}/).\n" for i in range(60)}
    site = make_site(tmp_path, files)
    # each build in its own process, as the author runs it: forking this test process, whose other tests leave
    # server threads behind, can copy a lock one of them holds and hang the worker
    for name, jobs in (("serial", "1"), ("parallel", "2")):
        result = run_builder("build", "--source", str(site), "--out", str(tmp_path / name), "--jobs", jobs)
        assert result.returncode == 0, result.stderr
    assert tree(tmp_path / "serial") == tree(tmp_path / "parallel")


FORK_COUNT_SCRIPT = """
import os, sys, threading
from pathlib import Path
from site_builder.build import build
forks = []
os.register_at_fork(before=lambda: forks.append(1))
site, out = Path(sys.argv[1]), Path(sys.argv[2])
build(site, out / "alone", jobs=2)
alone = len(forks)
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()  # e.g. a server thread of an embedding app
build(site, out / "threaded", jobs=2)
stop.set()
print(alone, len(forks) - alone)
"""


def test_builds_fork_workers_only_from_a_single_threaded_process(tmp_path):
    """A fork copies only the calling thread, so a lock held by another thread would hang the worker: with
    another thread alive the same build renders in-process, with the same output."""
    files = {f"content/posts/p{i:03d}.md": f"---\ntitle: P{i}\ndate: 2024-02-{1 + i % 28:02d}\n---\n\nPage {i}.\n"
             for i in range(60)}
    site = make_site(tmp_path, files)
    result = subprocess.run([PY, "-c", FORK_COUNT_SCRIPT, str(site), str(tmp_path)], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    alone, threaded = map(int, result.stdout.split())
    assert alone >= 2 and threaded == 0
    assert tree(tmp_path / "alone") == tree(tmp_path / "threaded")


def test_drafts_only_with_the_flag(site):
    (site / "content/posts/draft.md").write_text("---\ntitle: D\ndate: 2024-06-01\ndraft: true\n---\nx\n")
    build(site)
    assert not (site / "_site/posts/draft").exists()
    build(site, drafts=True)
    assert (site / "_site/posts/draft/index.html").exists()


def test_out_dir_that_is_not_a_site_is_refused(site, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(BuildFailed, match="was not written by site_builder"):
        build(site, precious)
    with pytest.raises(BuildFailed, match="would overwrite the site's own sources"):
        build(site, site / "content")
    assert (precious / "thesis.tex").exists()


# -- the command line and bad input -------------------------------------------------------------------

def built_ok(site: Path) -> dict[str, bytes]:
    result = run_builder("build", "--source", str(site))
    assert result.returncode == 0, result.stderr
    assert "Built 5 pages" in result.stdout
    return tree(site / "_site")


@pytest.mark.parametrize("path, text, message", [
    ("site.yml", "title: T\nauthor: [oops\n", "site.yml:2: invalid YAML"),
    ("content/posts/2024-05-01-first.md", "---\ntitle: First post\ndate: 2024-05-01\nlayout: fancy\n---\nx\n",
     "content/posts/2024-05-01-first.md:4: unknown layout 'fancy' (no templates/fancy.html; layouts: "),
    ("content/about.md", "---\ntitle: About\n---\n\nSee [this](/repo/posts/missing/).\n",
     "content/about.md:5: broken link: '/repo/posts/missing/' (no page or file there)"),
    ("content/about.md", "---\ntitle: About\n---\n\nFine.\n\nBroken \\(x + y\n",
     "content/about.md:7: unterminated math: '\\(' has no closing '\\)'"),
    ("content/about.md", "---\ntitle: About\n---\n\n$$\n\\frac{a}\n$$\n",
     "content/about.md:5: math does not render: incomplete expression"),
    ("content/about.md", "---\ntitle: About\ndate: someday\n---\nx\n",
     "content/about.md:3: 'date' must be a date"),
])
def test_bad_input_fails_with_file_and_line_and_keeps_the_old_site(site, path, text, message):
    before = built_ok(site)
    (site / path).write_text(text)
    result = run_builder("build", "--source", str(site))
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert f"Build failed; {site / '_site'} was left unchanged" in result.stderr
    assert tree(site / "_site") == before
    assert not list(site.glob("_site.*")), "no temporary directory is left behind"
    check = run_builder("check", "--source", str(site))
    assert check.returncode == 1 and message in check.stderr


def test_check_passes_on_a_good_site_and_warns_about_typos(site):
    (site / "content/about.md").write_text("---\ntitle: About\nsumary: typo\n---\nx\n")
    result = run_builder("check", "--source", str(site))
    assert result.returncode == 0, result.stderr
    assert "Check passed" in result.stdout
    assert "warning: content/about.md: unknown front matter key 'sumary' (did you mean 'summary'?)" in result.stderr
    assert not (site / "_site").exists()  # check writes nothing


def test_check_reports_every_problem_at_once(site):
    (site / "content/about.md").write_text("---\ntitle: About\n---\n\n[a](/repo/nope/) and [b](#nowhere)\n\n![c](/img/none.png)\n")
    result = run_builder("check", "--source", str(site))
    assert result.returncode == 1
    lines = [l for l in result.stderr.splitlines() if l.startswith("content/about.md")]
    assert lines == ["content/about.md:5: broken anchor: '#nowhere' (no id 'nowhere' on that page)",
                     "content/about.md:5: broken link: '/repo/nope/' (no page or file there)",
                     "content/about.md:7: missing image: '/repo/img/none.png' (no page or file there)"]


def test_new_scaffolds_a_draft_post(site):
    result = run_builder("new", "My Shiny Post!", "--source", str(site), env={"SOURCE_DATE_EPOCH": "1717200000"})
    assert result.returncode == 0, result.stderr
    post = site / "content/posts/my-shiny-post.md"
    assert post.read_text().startswith("---\ntitle: My Shiny Post!\ndate: 2024-06-01\nsummary: ''\ntags: []\ndraft: true\n---\n")
    again = run_builder("new", "My Shiny Post!", "--source", str(site))
    assert again.returncode == 1 and "already exists" in again.stderr
    drafts = run_builder("build", "--source", str(site), "--drafts")
    assert drafts.returncode == 0, drafts.stderr
    assert (site / "_site/posts/my-shiny-post/index.html").exists()


def test_base_url_flag_changes_every_internal_url(site, tmp_path):
    out = tmp_path / "out"
    result = run_builder("build", "--source", str(site), "--base-url", "https://octo.github.io/other", "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = (out / "posts/first/index.html").read_text()
    assert 'href="/other/about/"' in html and "/repo/" not in html
    assert '<link rel="canonical" href="https://octo.github.io/other/posts/first/">' in html


def test_rebuild_links_unchanged_static_files_instead_of_copying(site):
    first = build(site)
    assert first.static_copied == first.static_total - 1  # every file but the generated pygments.css
    image = site / "_site/images/jekyll-sample.png"
    inode = image.stat().st_ino
    second = build(site)
    assert second.static_copied == 0 and image.stat().st_ino == inode
    (site / "static/images/jekyll-sample.png").write_bytes(png(321, 200))
    third = build(site)
    assert third.static_copied == 1 and image.stat().st_ino != inode
    assert 'width="321"' in (site / "_site/posts/jekyll-sample/index.html").read_text()


BUNDLE_CONFIG = """title: T
author: A
base_url: https://example.github.io/repo/
assets:
  bundles: [widget]
"""


def test_included_template_gets_asset_url_of_a_bundle(tmp_path):
    site = make_site(tmp_path, {
        "static/widget/main.js": "import { x } from './util.js';\n",
        "static/widget/util.js": "export const x = 1;\n",
        "templates/widget.html": '<div class="w" data-base="{{ site.baseurl }}">'
                                 '<script type="module" src="{{ asset_url(\'widget/main.js\') }}"></script></div>\n',
        "content/about.md": "---\ntitle: About\n---\n\nBefore.\n\n{% include widget.html %}\n\nAfter.\n",
    }, config=BUNDLE_CONFIG)
    build(site)
    html = (site / "_site/about/index.html").read_text()
    src = re.search(r'<script type="module" src="(/repo/widget\.[0-9a-f]{10}/main\.js)">', html)[1]
    assert '<div class="w" data-base="/repo">' in html
    bundle = site / "_site" / src.removeprefix("/repo/").rsplit("/", 1)[0]
    assert (bundle / "main.js").exists() and (bundle / "util.js").exists()


def test_errors_inside_an_include_name_the_template_line(tmp_path):
    site = make_site(tmp_path, {
        "templates/bad.html": "<p>ok</p>\n{{ asset_url('nope/missing.js') }}\n",
        "content/about.md": "---\ntitle: About\n---\n\nText.\n\n{% include bad.html %}\n",
    })
    with pytest.raises(BuildFailed) as info:
        build(site)
    (error,) = [str(e) for e in info.value.errors]
    assert error.startswith("content/about.md:7: in include templates/bad.html:2:")
    assert "asset_url('nope/missing.js'): no file static/nope/missing.js" in error


def test_a_broken_layout_is_reported_once_with_its_line(site):
    base = site / "templates/base.html"
    base.write_text(base.read_text().replace("<main", "{{ asset_url('css/gone.css') }}<main"))
    with pytest.raises(BuildFailed) as info:
        build(site)
    (error,) = [str(e) for e in info.value.errors]
    line = next(i for i, l in enumerate(base.read_text().splitlines(), 1) if "gone.css" in l)
    assert error.startswith(f"templates/base.html:{line}: asset_url('css/gone.css'): no file static/css/gone.css")
    assert error.endswith("and 4 other page(s))")
