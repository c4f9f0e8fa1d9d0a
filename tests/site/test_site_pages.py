"""Content discovery: the URL scheme, Jekyll file names, drafts, and clashes."""
from pathlib import Path

from site_builder.pages import classify, load_pages, url_to_output
from site_builder.site import Site
from tests.site.helpers import make_site


def test_url_scheme():
    assert classify(Path("index.md"))[:3] == ("home", "index", "/")
    assert classify(Path("404.md"))[:3] == ("404", "404", "/404.html")
    kind, slug, url, date = classify(Path("posts/2024-05-01-hello-world.md"))
    assert (kind, slug, url, date.isoformat()) == ("post", "hello-world", "/posts/hello-world/", "2024-05-01T00:00:00+00:00")
    assert classify(Path("posts/series/part-1.md"))[2] == "/posts/series/part-1/"
    assert classify(Path("about.md"))[:3] == ("page", "about", "/about/")
    assert classify(Path("docs/index.md"))[:3] == ("page", "docs", "/docs/")
    assert classify(Path("docs/setup.md"))[2] == "/docs/setup/"
    assert url_to_output("/") == "index.html" and url_to_output("/a/b/") == "a/b/index.html"
    assert url_to_output("/x.html") == "x.html"


def test_posts_sorted_newest_first_drafts_hidden(tmp_path):
    site = make_site(tmp_path, {
        "content/posts/2023-01-01-old.md": "---\ntitle: Old\n---\nx\n",
        "content/posts/new.md": "---\ntitle: New\ndate: 2025-01-01\n---\nx\n",
        "content/posts/draft.md": "---\ntitle: D\ndate: 2026-01-01\ndraft: true\n---\nx\n",
        "content/.hidden/secret.md": "x",
    })
    pages, errors = load_pages(site, drafts=False)
    assert errors == []
    assert [p.slug for p in pages] == ["new", "first", "old", "about"]
    assert [p.slug for p in load_pages(site, drafts=True)[0]][:1] == ["draft"]


def test_problems_are_collected_not_fatal(tmp_path):
    site = make_site(tmp_path, {
        "content/posts/undated.md": "---\ntitle: U\n---\nx\n",
        "content/about/index.md": "---\ntitle: Also about\n---\nx\n",
        "content/broken.md": "---\ntitle: [x\n---\n",
        "content/latin1.md": "caf\xe9".encode("latin-1"),
    })
    pages, errors = load_pages(site, drafts=False)
    messages = sorted(str(e) for e in errors)
    assert any(m.startswith("content/posts/undated.md:1: a post needs a date") for m in messages)
    assert any(m.startswith("content/broken.md:2: invalid YAML") for m in messages)
    assert any(m.startswith("content/latin1.md:1: not valid UTF-8") for m in messages)
    assert {p.slug for p in pages} >= {"first"}


def test_two_pages_with_one_url_are_an_error_naming_both(tmp_path):
    site = make_site(tmp_path, {"content/about/index.md": "---\ntitle: Also about\n---\nx\n"})
    messages = [str(e) for e in Site.load(site).output_errors()]
    assert messages == ["content/about/index.md: would write about/index.html, which content/about.md also writes"]


def test_permalink_overrides_the_url(tmp_path):
    site = make_site(tmp_path, {"content/contact.md": "---\ntitle: C\npermalink: /reach-us.html\n---\nx\n"})
    page = next(p for p in load_pages(site, drafts=False)[0] if p.slug == "contact")
    assert (page.url, page.output) == ("/reach-us.html", "reach-us.html")
