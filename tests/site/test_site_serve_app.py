"""The preview server's WSGI app: GitHub-Pages-like routing under the base path, and the error overlay."""
import pytest

from site_builder.errors import BuildFailed, SourceError
from site_builder.incremental import IncrementalBuilder
from site_builder.serve import OVERLAY_ID, PreviewApp
from tests.site.helpers import make_site


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    builder = IncrementalBuilder(make_site(tmp), tmp / "out")
    builder.full()
    return PreviewApp(builder)


def get(app, path):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)
    body = b"".join(app({"PATH_INFO": path}, start_response))
    return seen["status"], seen["headers"], body


def test_routes_like_github_pages(app):
    assert get(app, "/")[0].startswith("302") and get(app, "/")[1]["Location"] == "/repo/"
    assert get(app, "/repo")[0].startswith("302")
    status, headers, body = get(app, "/repo/")
    assert status == "200 OK" and headers["Content-Type"] == "text/html; charset=utf-8" and b"<main" in body
    assert get(app, "/repo/about")[0].startswith("301")
    assert get(app, "/repo/about/")[0] == "200 OK"
    assert get(app, "/repo/feed.xml")[1]["Content-Type"].startswith("application/xml") or \
        get(app, "/repo/feed.xml")[1]["Content-Type"].startswith("text/xml")
    status, _, body = get(app, "/repo/nope/")
    assert status == "404 Not Found" and b"Page not found" in body
    assert get(app, "/elsewhere/")[0] == "404 Not Found"
    assert get(app, "/repo/../../etc/passwd")[0] == "404 Not Found"


def test_error_overlay_on_every_page_while_a_build_is_failing(app):
    app.builder.error = BuildFailed([SourceError("content/about.md", 3, "broken <thing>")])
    try:
        _, _, body = get(app, "/repo/about/")
        assert f'id="{OVERLAY_ID}"'.encode() in body
        assert b"content/about.md:3: broken &lt;thing&gt;" in body
        assert b"About this site" in body  # the last good page is still there
        _, _, css = get(app, "/repo/robots.txt")
        assert OVERLAY_ID.encode() not in css
    finally:
        app.builder.error = None
    assert OVERLAY_ID.encode() not in get(app, "/repo/about/")[2]


def test_a_site_that_never_built_still_shows_its_errors(tmp_path):
    site = make_site(tmp_path, {"site.yml": "title: [broken\n"})
    builder = IncrementalBuilder(site, tmp_path / "out")
    with pytest.raises(BuildFailed):
        builder.full()
    status, _, body = get(PreviewApp(builder, "/"), "/")
    assert status == "404 Not Found"
    assert b"site.yml:1: invalid YAML" in body and f'id="{OVERLAY_ID}"'.encode() in body
