"""Link checking against the output as the deployed site resolves it."""
from site_builder.links import LinkSource, check_links, html_ids, resolve

OUTPUTS = {"index.html", "posts/a/index.html", "feed.xml", "img/x.png", "old.html"}
IDS = {"posts/a/index.html": {"intro"}, "index.html": {"top"}}
PAGE = LinkSource("content/index.md", "/repo/", "index.html")


def check(href, kind="link"):
    return [str(e) for e in check_links([(PAGE, href, 3, kind)], OUTPUTS, IDS, "/repo/")]


def test_good_links():
    for href in ("/repo/", "/repo/posts/a/", "/repo/posts/a", "posts/a/#intro", "/repo/feed.xml", "#top",
                 "/repo/old", "https://example.org/x", "mailto:a@b.c", "//cdn.example/x.js"):
        assert check(href) == [], href


def test_broken_link_missing_image_and_anchor():
    assert check("/repo/posts/b/") == ["content/index.md:3: broken link: '/repo/posts/b/' (no page or file there)"]
    assert check("/repo/img/y.png", "image") == ["content/index.md:3: missing image: '/repo/img/y.png' (no page or file there)"]
    assert check("/repo/posts/a/#nope") == ["content/index.md:3: broken anchor: '/repo/posts/a/#nope' (no id 'nope' on that page)"]
    assert check("#gone") == ["content/index.md:3: broken anchor: '#gone' (no id 'gone' on that page)"]


def test_link_that_forgets_the_base_path():
    assert check("/posts/a/") == ["content/index.md:3: broken link: '/posts/a/' (points outside the site's base path /repo/)"]


def test_resolve_and_ids():
    assert resolve("../x.png", "/repo/posts/a/", "/repo/", {"posts/x.png"})[0] == "posts/x.png"
    assert html_ids('<h2 id="a">x</h2><p id=\'b\'>') == {"a", "b"}
