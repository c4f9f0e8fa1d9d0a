"""Machine-readable outputs: Atom `feed.xml`, `sitemap.xml` and `robots.txt`.

All dates come from the content (never the clock), so these files are identical from build to build.
Sources with control characters are refused when read; anything a template or filter still produces that
XML cannot carry is dropped here, so both XML files are always well-formed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from xml.sax import saxutils

from .config import SiteConfig
from .sources import CONTROL_CHARACTERS

FEED_ENTRIES = 20


@dataclass(frozen=True)
class FeedEntry:
    title: str
    url: str  # site path, e.g. /posts/x/
    date: dt.datetime
    summary: str
    html: str
    tags: tuple[str, ...]


def escape(text: str) -> str:
    return saxutils.escape(CONTROL_CHARACTERS.sub("", text))


def quoteattr(text: str) -> str:
    return saxutils.quoteattr(CONTROL_CHARACTERS.sub("", text))


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(config: SiteConfig, entries: list[FeedEntry], fallback_updated: dt.datetime) -> str:
    """Newest FEED_ENTRIES posts with full content; `updated` is the newest post's date."""
    entries = entries[:FEED_ENTRIES]
    updated = max((e.date for e in entries), default=fallback_updated)
    home = config.absolute_url("/")
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang={quoteattr(config.language)}>',
        f"  <title>{escape(config.title)}</title>",
    ]
    if config.description:
        lines.append(f"  <subtitle>{escape(config.description)}</subtitle>")
    lines += [
        f'  <link href={quoteattr(config.absolute_url("/feed.xml"))} rel="self" type="application/atom+xml"/>',
        f'  <link href={quoteattr(home)} rel="alternate" type="text/html"/>',
        f"  <id>{escape(home)}</id>",
        f"  <updated>{_stamp(updated)}</updated>",
        f"  <author><name>{escape(config.author)}</name></author>",
        "  <generator>site_builder</generator>",
    ]
    for e in entries:
        url = config.absolute_url(e.url)
        lines += [
            "  <entry>",
            f"    <title>{escape(e.title)}</title>",
            f'    <link href={quoteattr(url)} rel="alternate" type="text/html"/>',
            f"    <id>{escape(url)}</id>",
            f"    <published>{_stamp(e.date)}</published>",
            f"    <updated>{_stamp(e.date)}</updated>",
        ]
        if e.summary:
            lines.append(f"    <summary>{escape(e.summary)}</summary>")
        lines += [f'    <category term={quoteattr(tag)}/>' for tag in e.tags]
        lines.append(f"    <content type=\"html\" xml:base={quoteattr(url)}>{escape(e.html)}</content>")
        lines.append("  </entry>")
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def sitemap(config: SiteConfig, pages: list[tuple[str, dt.datetime | None]]) -> str:
    """`pages` is [(site path, date or None)] in a stable order."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>',
             '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for url, date in pages:
        lastmod = f"<lastmod>{date.astimezone(dt.timezone.utc).date().isoformat()}</lastmod>" if date else ""
        lines.append(f"  <url><loc>{escape(config.absolute_url(url))}</loc>{lastmod}</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots_txt(config: SiteConfig) -> str:
    return f"User-agent: *\nAllow: /\n\nSitemap: {config.absolute_url('/sitemap.xml')}\n"
