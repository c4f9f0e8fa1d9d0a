"""Internal link checking: every link and image in the content must reach a file the build produces,
and every `#fragment` an element id on that page.

Links are checked against the output under the base path, exactly as the deployed site will resolve
them, so a link that forgets the `/repo/` prefix of a GitHub Pages project site is caught here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote, urljoin, urlsplit

from .errors import SourceError
from .liquid import is_placeholder

_ID = re.compile(r"""\sid\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_SKIP_SCHEMES = ("http", "https", "mailto", "tel", "data", "javascript", "ftp", "irc", "ws", "wss")


def html_ids(html: str) -> set[str]:
    return {m[1] if m[1] is not None else m[2] for m in _ID.finditer(html)}


@dataclass(frozen=True)
class LinkSource:
    source: str  # file to blame in messages
    url: str  # URL path of the page the link appears on (with base path), e.g. /repo/posts/x/
    output: str | None  # output file of that page, for same-page anchors


@lru_cache(maxsize=65536)
def _candidates(href: str, page_url: str, base_path: str) -> tuple[tuple[str, ...] | None, str, str | None]:
    """Where a link may point, as output files to look for; cached because serve re-checks every link often."""
    if href.startswith("//"):
        return None, "", None
    if ":" in href.split("/", 1)[0] and urlsplit(href).scheme:
        return None, "", None  # http:, mailto: ... are someone else's business
    if href.startswith(base_path) and not any(c in href for c in "?#%") and "/." not in href:
        path, fragment = href, ""  # the common case, already a clean absolute path
    else:
        target = urlsplit(urljoin("http://site.invalid" + page_url, href))
        path, fragment = unquote(target.path), unquote(target.fragment)
    if not path.startswith(base_path):
        return (), fragment, f"points outside the site's base path {base_path}"
    rel = path[len(base_path):]
    if rel == "" or rel.endswith("/"):
        return (rel + "index.html",), fragment, None
    return (rel, rel + "/index.html", rel + ".html"), fragment, None


def resolve(href: str, page_url: str, base_path: str, outputs: set[str]) -> tuple[str | None, str, str | None]:
    """-> (output file or None, fragment, problem or None). Returns ("", "", None) for external links."""
    candidates, fragment, problem = _candidates(href, page_url, base_path)
    if candidates is None:
        return "", "", None
    for candidate in candidates:
        if candidate in outputs:
            return candidate, fragment, None
    return None, fragment, problem


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
