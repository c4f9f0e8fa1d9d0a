"""Hostile and broken input (issue 10): the builder never writes outside its output, never runs content as
code, never silently loses a page or a file, and answers every mistake with `file:line: message`."""
from __future__ import annotations

import os
import pickle
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
from site_builder.errors import BuildFailed, SourceError
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
    # a refusal in a worker process reaches the build whole
    failure = BuildFailed([SourceError("a.md", 3, "bad", ("b.md",))])
    assert pickle.loads(pickle.dumps(failure)).errors == failure.errors


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


# -- 4: no page or file silently replaces another -------------------------------------------------------

@pytest.mark.parametrize("files, first, second", [
    ({"static/index.html": "<p>x</p>"}, "static/index.html", "the generated home page (templates/home.html)"),
    ({"content/index.md": page("title: Home"), "static/index.html": "<p>x</p>"}, "static/index.html",
     "content/index.md"),
    ({"static/feed.xml": "<feed/>"}, "static/feed.xml", "the generated feed.xml"),
    ({"static/sitemap.xml": "<urlset/>"}, "static/sitemap.xml", "the generated sitemap.xml"),
    ({"content/home2.md": page("title: H\npermalink: /index.html")}, "content/home2.md:3",
     "the generated home page (templates/home.html)"),
    ({"content/nf.md": page("title: N\npermalink: /404.html")}, "content/nf.md:3",
     "the generated 404 page (templates/404.html)"),
    ({"content/dup.html": "<p>file</p>", "content/d.md": page("title: D\npermalink: /dup.html")},
     "content/dup.html", "content/d.md"),
    ({"content/about/index.html": "<p>file</p>"}, "content/about/index.html", "content/about.md"),
    ({"static/about": "a file where a directory must be"}, "static/about", "content/about.md"),
    ({"content/images/a.png": png(2, 2), "static/images/a.png": png(3, 3)}, "content/images/a.png",
     "static/images/a.png"),
])
def test_every_collision_is_an_error_naming_both(tmp_path, files, first, second):
    site = make_site(tmp_path, files)
    result = run_builder("build", "--source", str(site))
    fails_cleanly(result, first)
    line = next(l for l in result.stderr.splitlines() if l.startswith(first))
    assert second in line, line
    assert not (site / "_site").exists()


def test_an_explicit_robots_txt_replaces_the_generated_one(tmp_path):
    site = make_site(tmp_path, {"content/robots.txt": "User-agent: *\nDisallow: /drafts/\n"})
    build(site)
    assert (site / "_site/robots.txt").read_text() == "User-agent: *\nDisallow: /drafts/\n"


# -- 5: --out never replaces what we did not build --------------------------------------------------------

def test_out_refuses_a_folder_with_an_index_that_we_did_not_build(tmp_path):
    site = make_site(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.html").write_text("my own page")
    (docs / "notes.txt").write_text("years of notes")
    result = run_builder("build", "--source", str(site), "--out", str(docs))
    fails_cleanly(result, "--out: refusing to replace")
    assert sorted(p.name for p in docs.iterdir()) == ["index.html", "notes.txt"]


def test_out_refuses_a_regular_file(tmp_path):
    site = make_site(tmp_path)
    target = tmp_path / "thesis.pdf"
    target.write_bytes(b"%PDF precious")
    fails_cleanly(run_builder("build", "--source", str(site), "--out", str(target)), "is not a folder")
    assert target.read_bytes() == b"%PDF precious"


def test_out_replaces_its_own_previous_output_and_empty_folders(tmp_path):
    site = make_site(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    for _ in range(2):
        assert run_builder("build", "--source", str(site), "--out", str(empty)).returncode == 0
    assert (empty / "index.html").exists()


# -- 6: symbolic links stay inside the site ---------------------------------------------------------------

def test_links_out_of_the_site_are_refused(tmp_path):
    site = make_site(tmp_path)
    (site / "content/passwd.md").symlink_to("/etc/passwd")
    (site / "static/etc").symlink_to("/etc")
    result = run_builder("build", "--source", str(site))
    fails_cleanly(result, "content/passwd.md: a symbolic link to /etc/passwd, outside the site directory")
    assert "static/etc: a symbolic link to /etc, outside the site directory" in result.stderr
    fails_cleanly(run_builder("check", "--source", str(site)), "content/passwd.md")
    assert not (site / "_site").exists()


def test_dangling_and_looping_links_are_messages(tmp_path):
    site = make_site(tmp_path)
    (site / "content/gone.md").symlink_to(site / "content/missing.md")
    (site / "static/loop").symlink_to(site / "static/loop")
    (site / "static/up").symlink_to(site / "static")
    result = run_builder("build", "--source", str(site))
    fails_cleanly(result, "content/gone.md: a symbolic link to a missing")
    assert "static/loop: a symbolic link that loops" in result.stderr
    assert "static/up: a symbolic link to a folder that contains it" in result.stderr


def test_links_inside_the_site_are_followed(tmp_path):
    site = make_site(tmp_path, {"static/images/a.png": png(4, 3),
                                "content/pic.md": page("title: Pic", "![a](/images/alias.png)\n")})
    (site / "static/images/alias.png").symlink_to("a.png")
    build(site)
    assert (site / "_site/images/alias.png").read_bytes() == png(4, 3)
    assert 'width="4" height="3"' in (site / "_site/pic/index.html").read_text()


# -- 7: impossible values are messages, not tracebacks ----------------------------------------------------

@pytest.mark.parametrize("path, text, message", [
    ("content/about.md", page("title: About\ndate: 2026-13-45"), "content/about.md:3: "),
    ("content/about.md", page("title: About\nupdated: 2026-13-45"), "content/about.md:3: "),
    ("content/about.md", page("title: About\ndate: 2024-01-01 00:00:00 +99:00"), "content/about.md:3: "),
    ("content/about.md", page("title: About\ndate: 0001-01-01 00:00:00 +23:00"), "content/about.md:3: "),
    ("content/about.md", page("title: About\ndate: '9999-12-31 23:00:00 -0500'"), "content/about.md:3: "),
    ("site.yml", "title: T\nauthor: A\nbase_url: https://example.github.io/repo/\nlaunched: 2026-13-45\n",
     "site.yml:4: "),
    ("site.yml", "title: Caf\xe9\nauthor: A\n".encode("latin-1"), "site.yml:1: not valid UTF-8"),
    ("content/about.md", page("title: Caf\xe9").encode("latin-1"), "content/about.md:2: not valid UTF-8"),
    ("static/images/a.svg", '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 wide tall"/>',
     "content/pic.md:5: image '/repo/images/a.svg'"),
    ("static/images/a.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="1.2.3" height="4"/>',
     "content/pic.md:5: image '/repo/images/a.svg'"),
    ("static/images/a.svg", '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1e999 5"/>',
     "content/pic.md:5: image '/repo/images/a.svg'"),
])
def test_impossible_values_are_file_line_messages(tmp_path, path, text, message):
    site = make_site(tmp_path, {"content/pic.md": page("title: Pic", "![a](/images/a.svg)\n"),
                                "static/images/a.svg": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 4"/>'})
    assert run_builder("build", "--source", str(site)).returncode == 0
    (site / path).write_bytes(text if isinstance(text, bytes) else text.encode())
    fails_cleanly(run_builder("build", "--source", str(site)), message)
    fails_cleanly(run_builder("check", "--source", str(site)), message)


def test_serve_reports_the_same_message(tmp_path):
    site = make_site(tmp_path)
    builder = IncrementalBuilder(site, tmp_path / "out")
    builder.full()
    about = site / "content/about.md"
    about.write_text(page("title: About\ndate: 2026-13-45"))
    os.utime(about, ns=(about.stat().st_atime_ns, about.stat().st_mtime_ns + 5_000_000_000))
    with pytest.raises(BuildFailed, match=r"content/about.md:3: .*2026-13-45"):
        builder.update()


# -- 8: control characters never reach the XML outputs ----------------------------------------------------

@pytest.mark.parametrize("text, line", [
    (page('title: "Bell\\x01"'), 2),
    (page("title: T", "Fine.\n\nA \x01 here.\n"), 7),
    (page("title: T\ntags: [\"a\\x1b\"]"), 3),
])
def test_control_characters_are_refused_at_their_line(tmp_path, text, line):
    site = make_site(tmp_path, {"content/posts/2024-06-01-x.md": text})
    fails_cleanly(run_builder("build", "--source", str(site)),
                  f"content/posts/2024-06-01-x.md:{line}: control character U+00")


def test_every_xml_output_is_well_formed(tmp_path):
    nasty = "A <b>&amp; ]]> \"q\" 'a' \x7f \u0085 \u2028 \U0001f600"
    front = yaml.safe_dump({"title": nasty, "summary": nasty, "tags": [nasty], "date": "2024-06-01"}, width=10**6)
    site = make_site(tmp_path, {
        "content/posts/nasty.md": f"---\n{front}---\n\n{nasty}\n\n{{{{ '%01' | url_decode }}}}\n",
        "content/what?#now.md": page("title: Odd name"),
    }, config=CONFIG.replace("title: Fixture site\n", yaml.safe_dump({"title": nasty}, width=10**6)))
    build(site)
    for name in ("feed.xml", "sitemap.xml"):
        ET.fromstring((site / "_site" / name).read_bytes())  # raises if not well-formed
    entry = ET.fromstring((site / "_site/feed.xml").read_bytes()).find("{http://www.w3.org/2005/Atom}entry")
    assert entry.findtext("{http://www.w3.org/2005/Atom}title") == nasty


# -- 9: odd file names give working, encoded URLs ---------------------------------------------------------

def wsgi_get(app: PreviewApp, url: str) -> str:
    seen = {}
    path = unquote(urlsplit(url).path, encoding="latin-1")  # what a WSGI server hands over (PEP 3333)
    app({"PATH_INFO": path}, lambda status, headers: seen.setdefault("status", status))
    return seen["status"]


def test_question_marks_and_hashes_in_file_names(tmp_path):
    site = make_site(tmp_path, {"content/posts/what?#now.md": page("title: Odd\ndate: 2024-06-01"),
                                "content/about.md": page("title: About", "[odd](posts/what%3F%23now.md)\n"),
                                "content/über uns.md": page("title: Über"),
                                "static/images/a b#c.png": png(2, 2),
                                "content/pic.md": page("title: Pic", "![a](</images/a b%23c.png>)\n")})
    result = run_builder("check", "--source", str(site))
    assert result.returncode == 0, result.stderr
    builder = IncrementalBuilder(site, tmp_path / "out")
    builder.full()
    out = builder.out
    locs = [e.text for e in ET.fromstring((out / "sitemap.xml").read_bytes()).iter(f"{SITEMAP}loc")]
    odd = "https://example.github.io/repo/posts/what%3F%23now/"
    assert odd in locs and all("#" not in loc and "?" not in loc for loc in locs)
    home = (out / "index.html").read_text()
    assert 'href="/repo/posts/what%3F%23now/"' in home
    assert 'href="/repo/posts/what%3F%23now/"' in (out / "about/index.html").read_text()
    assert 'src="/repo/images/a%20b%23c.png"' in (out / "pic/index.html").read_text()
    app = PreviewApp(builder)
    assert wsgi_get(app, "/repo/posts/what%3F%23now/") == "200 OK"
    assert wsgi_get(app, "/repo/images/a%20b%23c.png") == "200 OK"
    assert "https://example.github.io/repo/%C3%BCber%20uns/" in locs
    assert wsgi_get(app, "/repo/%C3%BCber%20uns/") == "200 OK"


# -- 10: leftovers of killed or blocked builds are cleaned up; permissions are messages -------------------

@contextmanager
def immutable(path: Path, thaw_at=None):
    """Make `path` unchangeable even for root (chattr +i), or by permissions for other users. The file may
    move meanwhile (a build renames the output it is in): `thaw_at()` says where it is at the end."""
    root = os.geteuid() == 0
    if root and (shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0):
        pytest.skip("chattr +i is not available on this filesystem")
    mode = path.stat().st_mode
    if not root:
        path.chmod(0o555)
    try:
        yield
    finally:
        where = thaw_at() if thaw_at else path
        if root:
            subprocess.run(["chattr", "-i", str(where)], check=True)
        else:
            where.chmod(mode)


def test_a_killed_build_leaves_nothing_the_next_build_keeps(tmp_path):
    files = {f"content/posts/p{i:03d}.md": page(f"title: P{i}\ndate: 2024-01-01", "$x^2$ text.\n" * 50)
             for i in range(400)}
    site = make_site(tmp_path, files)
    proc = subprocess.Popen([PY, "-m", "site_builder", "build", "--source", str(site), "--jobs", "1"],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not any(p.is_dir() and any(p.rglob("*.html")) for p in site.glob("_site.tmp-*")):
        assert proc.poll() is None and time.monotonic() < deadline, "the build ended before it could be killed"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(site.glob("_site.tmp-*")), "the killed build left its temporary directory"
    result = run_builder("build", "--source", str(site))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in site.glob("_site*")) == ["_site"]


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_temporary_directory_we_did_not_make_is_left_alone(tmp_path):
    site = make_site(tmp_path)
    foreign = site / f"_site.tmp-{dead_pid()}"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not ours")
    assert run_builder("build", "--source", str(site)).returncode == 0
    assert (foreign / "keep.txt").read_text() == "not ours"


def test_an_undeletable_old_tree_is_reported_then_cleaned_up(tmp_path):
    site = make_site(tmp_path)
    assert run_builder("build", "--source", str(site)).returncode == 0
    stuck = site / "_site/about/index.html"
    with immutable(stuck, thaw_at=lambda: next(site.glob("_site.old-*"), site / "_site") / "about/index.html"):
        result = run_builder("build", "--source", str(site))
        assert result.returncode == 0, result.stderr
        assert "warning: could not remove" in result.stderr and "_site.old-" in result.stderr
        assert "Traceback" not in result.stderr
        (old,) = site.glob("_site.old-*")
    result = run_builder("build", "--source", str(site))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in site.glob("_site*")) == ["_site"] and not old.exists()


def test_an_unreplaceable_output_is_a_message(tmp_path):
    site = make_site(tmp_path)
    assert run_builder("build", "--source", str(site)).returncode == 0
    before = tree(site / "_site")
    (site / "content/about.md").write_text(page("title: About", "Changed.\n"))
    with immutable(site / "_site"):
        result = run_builder("build", "--source", str(site))
        fails_cleanly(result, f"{site / '_site'}: cannot replace")
    assert tree(site / "_site") == before
    assert sorted(p.name for p in site.glob("_site*")) == ["_site"]


# -- 11: serve's port and odd requests ---------------------------------------------------------------------

@pytest.mark.parametrize("port", ["70000", "-1", "0", "http"])
def test_serve_refuses_impossible_ports(tmp_path, port):
    site = make_site(tmp_path)
    result = run_builder("serve", "--source", str(site), "--port", port, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--port" in result.stderr and "1 and 65535" in result.stderr and "Traceback" not in result.stderr
    assert "Serving on" not in result.stderr


@contextmanager
def serving(site: Path, port: int, log: Path):
    with log.open("w") as sink:
        proc = subprocess.Popen([PY, "-m", "site_builder", "serve", "--port", str(port), "--source", str(site)],
                                stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/repo/", timeout=5)
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def test_serve_answers_odd_requests_and_a_busy_port_with_messages(tmp_path):
    site = make_site(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    with serving(site, port, log):
        for path in ("/repo/%00", "/repo/a%00b/", "/repo/%2e%2e/%2e%2e/etc/passwd"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
            assert info.value.code == 404, path
        busy = run_builder("serve", "--source", str(site), "--port", str(port), timeout=120)
    assert "Traceback" not in log.read_text(), log.read_text()
    fails_cleanly(busy, f"--port: 127.0.0.1:{port} is already in use")
    assert "Serving on" not in busy.stderr


# -- 12: pathological headings stay linear ------------------------------------------------------------------

def test_repeated_heading_ids_are_allocated_in_linear_time():
    from site_builder.markdown_renderer import UniqueIds

    ids = UniqueIds()
    got = [ids.allocate("same") for _ in range(20_000)]
    assert got[:3] == ["same", "same-1", "same-2"] and got[-1] == "same-19999"
    assert ids.probes <= 2 * 20_000, ids.probes
    # the slugs that collide with generated suffixes still get the ids they always had
    ids = UniqueIds({"main"})
    assert [ids.allocate(s) for s in ("a", "a", "a-1", "a", "main", "main-1")] == \
        ["a", "a-1", "a-1-1", "a-2", "main-1", "main-1-1"]
