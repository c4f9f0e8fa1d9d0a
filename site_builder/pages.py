"""Content discovery: which Markdown files exist, what kind of page each is, and the URL it gets.

The scheme (documented in the README):
  content/index.md            -> /              (home page, layout `home`)
  content/404.md              -> /404.html      (optional; a default is built from templates/404.html)
  content/posts/NAME.md       -> /posts/SLUG/   (posts: dated, listed, in the feed; layout `post`)
  content/OTHER/NAME.md       -> /OTHER/NAME/   (pages; `index.md` gives the directory URL; layout `page`)
A Jekyll file name `2024-05-01-slug.md` supplies the date and the slug; `permalink:` overrides the URL.
Other files under content/ are copied beside the pages (see assets.py).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from . import frontmatter
from .errors import SourceError
from .frontmatter import FrontMatter

CONTENT_DIR = "content"
POSTS_DIR = "posts"


@dataclass
class Page:
    source: str  # relative to the site directory, for messages: content/posts/x.md
    path: Path
    url: str  # site path without the base path: /posts/x/
    output: str  # file inside the output directory: posts/x/index.html
    kind: str  # "post", "page", "home" or "404"
    slug: str
    meta: FrontMatter
    body: str
    body_line: int
    mtime_ns: int = 0
    yaml_text: str = ""  # the front matter as written, to find the line of a key in error messages

    @property
    def title(self) -> str:
        return self.meta.title or self.slug.replace("-", " ").replace("_", " ").strip().capitalize()

    @property
    def date(self) -> dt.datetime | None:
        return self.meta.date

    @property
    def layout(self) -> str:
        if self.meta.layout:
            return self.meta.layout
        return {"post": "post", "home": "home", "404": "404"}.get(self.kind, "page")

    def listing_key(self) -> tuple:
        """Everything about this page that other pages show (lists, feed, neighbours, navigation)."""
        m = self.meta
        return (self.url, self.kind, self.title, m.date, m.summary, m.draft, m.tags, m.image, self.layout)


def url_to_output(url: str) -> str:
    """`/posts/x/` -> `posts/x/index.html`; `/x.html` -> `x.html`."""
    path = url.lstrip("/")
    if path == "" or path.endswith("/"):
        return path + "index.html"
    return path


def classify(rel: Path) -> tuple[str, str, str, dt.datetime | None]:
    """Path under content/ -> (kind, slug, url, date from file name)."""
    parts = rel.with_suffix("").parts
    if parts == ("index",):
        return "home", "index", "/", None
    if parts == ("404",):
        return "404", "404", "/404.html", None
    if parts[0] == POSTS_DIR and len(parts) > 1:
        date, slug = frontmatter.date_from_filename(parts[-1])
        return "post", slug, "/" + "/".join((POSTS_DIR, *parts[1:-1], slug)) + "/", date
    if parts[-1] == "index":
        return "page", parts[-2], "/" + "/".join(parts[:-1]) + "/", None
    return "page", parts[-1], "/" + "/".join(parts) + "/", None


def markdown_files(site_dir: Path) -> list[Path]:
    content = site_dir / CONTENT_DIR
    if not content.is_dir():
        return []
    return sorted(p for p in content.rglob("*.md") if p.is_file() and not _hidden(p.relative_to(content)))


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def read_page(site_dir: Path, path: Path) -> Page:
    """Read one Markdown file; raise FrontMatterError if its front matter is bad."""
    rel = path.relative_to(site_dir / CONTENT_DIR)
    source = f"{CONTENT_DIR}/{rel.as_posix()}"
    stat = path.stat()
    text = path.read_bytes().decode("utf-8")
    parsed = frontmatter.parse(text, source)
    kind, slug, url, file_date = classify(rel)
    meta = parsed.meta
    if meta.date is None and file_date is not None:
        meta.date = file_date
    if meta.permalink and kind in ("post", "page"):
        url = meta.permalink
    return Page(source, path, url, url_to_output(url), kind, slug, meta, parsed.body, parsed.body_line,
                stat.st_mtime_ns, parsed.yaml_text)


def load_pages(site_dir: Path, drafts: bool) -> tuple[list[Page], list[SourceError]]:
    """Read every Markdown file; returns the pages to build and the errors found (all of them)."""
    pages: list[Page] = []
    errors: list[SourceError] = []
    for path in markdown_files(site_dir):
        try:
            page = read_page(site_dir, path)
        except frontmatter.FrontMatterError as exc:
            errors.extend(exc.errors)
            continue
        except UnicodeDecodeError as exc:
            errors.append(SourceError(f"{CONTENT_DIR}/{path.relative_to(site_dir / CONTENT_DIR).as_posix()}",
                                      None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"))
            continue
        if page.meta.draft and not drafts:
            continue
        pages.append(page)
    errors.extend(validate_pages(pages))
    return sort_pages(pages), errors


def validate_pages(pages: list[Page]) -> list[SourceError]:
    errors = []
    seen: dict[str, Page] = {}
    for page in pages:
        if page.kind == "post" and page.meta.date is None:
            errors.append(SourceError(page.source, 1, "a post needs a date: add 'date: YYYY-MM-DD' to its front "
                                                      "matter or name the file YYYY-MM-DD-slug.md"))
        other = seen.get(page.output)
        if other is not None:
            errors.append(SourceError(page.source, 1, f"has the same URL {page.url} as {other.source}"))
        seen[page.output] = page
    return errors


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def sort_pages(pages: list[Page]) -> list[Page]:
    """Posts newest first, then everything else by source path: a stable order for deterministic output."""
    posts = sorted((p for p in pages if p.kind == "post"), key=lambda p: (p.date or _EPOCH, p.source), reverse=True)
    others = sorted((p for p in pages if p.kind != "post"), key=lambda p: p.source)
    return posts + others
