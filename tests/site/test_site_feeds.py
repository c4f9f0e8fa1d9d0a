"""Atom feed, sitemap and robots.txt: valid XML, absolute URLs, dates from content only."""
import datetime as dt
import xml.etree.ElementTree as ET

from site_builder.config import SiteConfig
from site_builder.feeds import FEED_ENTRIES, FeedEntry, atom_feed, robots_txt, sitemap

CONFIG = SiteConfig(title="T & co", author="A", description="D", language="en",
                    base_url="https://example.github.io/repo/")
ATOM = "{http://www.w3.org/2005/Atom}"
UTC = dt.timezone.utc


def entry(i: int) -> FeedEntry:
    return FeedEntry(f"Post {i}", f"/posts/p{i}/", dt.datetime(2024, 1, 1 + i, tzinfo=UTC), "S",
                     f'<p>Body <a href="/repo/x/">{i}</a></p>', ("t",))


def test_atom_feed():
    entries = [entry(i) for i in range(25, 0, -1)]
    root = ET.fromstring(atom_feed(CONFIG, entries, dt.datetime(2000, 1, 1, tzinfo=UTC)))
    assert root.findtext(f"{ATOM}title") == "T & co"
    assert root.findtext(f"{ATOM}updated") == "2024-01-26T00:00:00Z"
    items = root.findall(f"{ATOM}entry")
    assert len(items) == FEED_ENTRIES
    first = items[0]
    assert first.findtext(f"{ATOM}id") == "https://example.github.io/repo/posts/p25/"
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "html" and "<a href" in content.text
    assert content.get("{http://www.w3.org/XML/1998/namespace}base") == "https://example.github.io/repo/posts/p25/"
    self_link = [l for l in root.findall(f"{ATOM}link") if l.get("rel") == "self"][0]
    assert self_link.get("href") == "https://example.github.io/repo/feed.xml"


def test_empty_feed_uses_the_fallback_date():
    root = ET.fromstring(atom_feed(CONFIG, [], dt.datetime(2001, 2, 3, tzinfo=UTC)))
    assert root.findtext(f"{ATOM}updated") == "2001-02-03T00:00:00Z"


def test_sitemap_and_robots():
    root = ET.fromstring(sitemap(CONFIG, [("/", None), ("/posts/a/", dt.datetime(2024, 5, 1, 23, tzinfo=UTC))]))
    ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    assert [u.findtext(f"{ns}loc") for u in root] == ["https://example.github.io/repo/", "https://example.github.io/repo/posts/a/"]
    assert root[1].findtext(f"{ns}lastmod") == "2024-05-01" and root[0].find(f"{ns}lastmod") is None
    assert robots_txt(CONFIG).endswith("Sitemap: https://example.github.io/repo/sitemap.xml\n")
