"""Site URLs, owned here: how a path becomes a URL, how a link written in Markdown becomes the URL
published, which output file a URL reaches (for the link check, image sizes and the preview server), and
the check that every internal link and image reaches a file the build produces, and every `#fragment` an id.

URLs are percent-encoded (`content/what?#now.md` -> `/repo/what%3F%23now/`); output files keep the decoded
name, as GitHub Pages serves them. Links are checked against the output under the base path, exactly as the
deployed site resolves them, so a link that forgets the `/repo/` prefix of a project site is caught here.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Container
from urllib.parse import quote, unquote, urljoin, urlsplit

from .config import SiteConfig
from .errors import SourceError
from .liquid import is_placeholder

_ID = re.compile(r"""\sid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Characters a URL path may carry as they are (RFC 3986 pchar and "/"); everything else is percent-encoded.
_PATH_SAFE = "/!$&'()*+,;=:@~"
CONTENT_PREFIX = "content/"


def url_path(site_path: str) -> str:
    """A site path (`/what?#now/`) as it is written in a URL (`/what%3F%23now/`)."""
    return quote(site_path, safe=_PATH_SAFE)


def output_candidates(path: str, base_path: str) -> tuple[str, ...] | None:
    """Output files a decoded URL path may be served from, in GitHub Pages' order (`dir/` -> `dir/index.html`;
    `name` -> `name`, `name/index.html`, `name.html`), or None if it is not under the base path."""
    if not path.startswith(base_path):
        return None
    rel = path[len(base_path):]
    if rel == "" or rel.endswith("/"):
        return (rel + "index.html",)
    return rel, rel + "/index.html", rel + ".html"


@lru_cache(maxsize=65536)
def _target(href: str, page_url: str, base_path: str) -> tuple[tuple[str, ...] | None, str, str | None]:
    """(output candidates, fragment, problem) for a link on the page at `page_url`; candidates is None for a
    link to another site. Cached because serve re-checks every link often."""
    if href.startswith("//"):
        return None, "", None
    if ":" in href.split("/", 1)[0] and urlsplit(href).scheme:
        return None, "", None  # http:, mailto: ... are someone else's business
    if href.startswith(base_path) and not any(c in href for c in "?#%") and "/." not in href:
        path, fragment = href, ""  # the common case, already a clean absolute path
    else:
        target = urlsplit(urljoin("http://site.invalid" + page_url, href))
        path, fragment = unquote(target.path), unquote(target.fragment)
    candidates = output_candidates(path, base_path)
    if candidates is None:
        return (), fragment, f"points outside the site's base path {base_path}"
    return candidates, fragment, None


def resolve(href: str, page_url: str, base_path: str, outputs: Container[str]) -> tuple[str | None, str, str | None]:
    """-> (output file or None, fragment, problem or None). Returns ("", "", None) for external links."""
    candidates, fragment, problem = _target(href, page_url, base_path)
    if candidates is None:
        return "", "", None
    for candidate in candidates:
        if candidate in outputs:
            return candidate, fragment, None
    return None, fragment, problem


def rewrite(href: str, source: str, config: SiteConfig, page_url: Callable[[str], str | None],
            asset_outputs: Container[str]) -> str:
    """A URL as written in the Markdown of `source` -> the URL to publish.

    `/x/` (from the site root) gets the base path; a relative link to a `.md` file becomes that page's URL,
    and one to another file under content/ that file's URL (MkDocs' rule); anything else is left for the
    browser to resolve against the page's URL. `page_url(source)` is a page's site path, if it exists.
    """
    parts = urlsplit(href)
    if not href or parts.scheme or href.startswith(("#", "//")) or is_placeholder(href):
        return href
    suffix = href[len(parts.path):]  # ?query#fragment as written
    if parts.path.startswith("/"):
        return config.relative_url(parts.path) + suffix
    if not source.startswith(CONTENT_PREFIX):
        return href
    target = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(parts.path)))
    if target.endswith(".md"):
        url = page_url(target)
        return config.relative_url(url) + suffix if url is not None else href
    rel = target[len(CONTENT_PREFIX):] if target.startswith(CONTENT_PREFIX) else None
    if rel is not None and rel in asset_outputs:
        return config.base_path + url_path(rel) + suffix
    return href


def html_ids(html: str) -> set[str]:
    return {m[1] if m[1] is not None else m[2] for m in _ID.finditer(html)}


@dataclass(frozen=True)
class LinkSource:
    source: str  # file to blame in messages
    url: str  # URL path of the page the link appears on (with base path), e.g. /repo/posts/x/
    output: str | None  # output file of that page, for same-page anchors


def check_links(items: list[tuple[LinkSource, str, int, str]], outputs: set[str],
                ids: dict[str, set[str]], base_path: str) -> list[SourceError]:
    """`items` is [(where, href, line, kind)] with kind "link" or "image"; returns one error per bad link."""
    errors = []
    for where, href, line, kind in items:
        if not href or is_placeholder(href):
            continue
        if href.startswith("#"):
            target, fragment, problem = where.output, unquote(href[1:]), None
        else:
            target, fragment, problem = resolve(href, where.url, base_path, outputs)
        if target == "":
            continue
        what = "missing image" if kind == "image" else "broken link"
        if target is None:
            detail = problem or "no page or file there"
            errors.append(SourceError(where.source, line, f"{what}: '{href}' ({detail})"))
            continue
        if fragment and target in ids and fragment not in ids[target]:
            errors.append(SourceError(where.source, line,
                                      f"broken anchor: '{href}' (no id '{fragment}' on that page)"))
    return errors
