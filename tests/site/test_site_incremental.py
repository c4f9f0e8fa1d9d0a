"""`serve`'s rebuilds: an edit re-renders only what it affects, and a failed rebuild writes nothing."""
import os
import time

import pytest

from site_builder.errors import BuildFailed
from site_builder.incremental import IncrementalBuilder
from tests.site.helpers import make_site, png, tree


def touch_write(path, text):
    """Write and move the mtime forward, so the change is seen even within one clock tick."""
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


@pytest.fixture
def builder(tmp_path):
    site = make_site(tmp_path, {"static/images/a.png": png(10, 10),
                                "content/pic.md": "---\ntitle: Pic\n---\n\n![a](/images/a.png)\n",
                                "static/model/big.bin": b"\0" * 1000})
    b = IncrementalBuilder(site, tmp_path / "out")
    b.full()
    return b


def mtimes(root):
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_editing_a_body_rewrites_that_page_only(builder):
    site, out = builder.site_dir, builder.out
    before = mtimes(out)
    time.sleep(0.01)
    post = site / "content/posts/2024-05-01-first.md"
    touch_write(post, post.read_text().replace("Intro paragraph", "Edited paragraph"))
    assert builder.update() == "incremental: 1 page(s)"
    after = mtimes(out)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"posts/first/index.html", "feed.xml"}
    assert "Edited paragraph" in (out / "posts/first/index.html").read_text()
    assert builder.update() == "nothing"


def test_listing_change_rebuilds_everything(builder):
    post = builder.site_dir / "content/posts/2024-05-01-first.md"
    touch_write(post, post.read_text().replace("title: First post", "title: Renamed post"))
    assert builder.update() == "full"
    assert "Renamed post" in (builder.out / "index.html").read_text()


def test_template_change_rebuilds_everything(builder):
    base = builder.site_dir / "templates/base.html"
    touch_write(base, base.read_text().replace("Skip to content", "Skip ahead"))
    assert builder.update() == "full"
    assert "Skip ahead" in (builder.out / "about/index.html").read_text()


def test_static_change_copies_the_file_and_resizes_pages_that_show_it(builder):
    out = builder.out
    big_before = (out / "model/big.bin").stat().st_ino
    touch_write(builder.site_dir / "static/images/a.png", png(30, 20))
    assert builder.update() == "incremental: 1 page(s), 1 file(s)"
    assert 'width="30" height="20"' in (out / "pic/index.html").read_text()
    assert (out / "model/big.bin").stat().st_ino == big_before  # the big file was not touched


def test_failed_rebuild_keeps_the_last_good_site_and_recovers(builder):
    out = builder.out
    good = tree(out)
    about = builder.site_dir / "content/about.md"
    touch_write(about, "---\ntitle: About\n---\n\nNow [broken](/repo/nowhere/).\n")
    with pytest.raises(BuildFailed) as info:
        builder.update()
    assert "content/about.md:5: broken link: '/repo/nowhere/'" in str(info.value)
    assert builder.error is info.value
    assert tree(out) == good
    touch_write(about, "---\ntitle: About\n---\n\nFixed.\n")
    assert builder.update().startswith("incremental")
    assert builder.error is None and "Fixed." in (out / "about/index.html").read_text()


def test_bad_front_matter_during_serve(builder):
    about = builder.site_dir / "content/about.md"
    touch_write(about, "---\ntitle: [About\n---\nx\n")
    with pytest.raises(BuildFailed, match=r"content/about.md:\d: invalid YAML"):
        builder.update()


def test_an_update_makes_a_new_site_and_a_failed_one_changes_nothing(builder):
    site = builder.site
    about = builder.site_dir / "content/about.md"
    page_before = site.by_source["content/about.md"]
    touch_write(about, "---\ntitle: About\n---\n\nNow [broken](/repo/nowhere/).\n")
    with pytest.raises(BuildFailed):
        builder.update()
    assert builder.site is site and site.by_source["content/about.md"] is page_before
    touch_write(about, "---\ntitle: About\n---\n\nFine again.\n")
    builder.update()
    assert builder.site is not site and site.by_source["content/about.md"] is page_before
    assert "Fine again." in builder.site.by_source["content/about.md"].body
