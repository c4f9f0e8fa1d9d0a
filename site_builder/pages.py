"""Content discovery: which Markdown files exist, what kind of page each is, and the URL it gets.

The scheme (documented in the README):
  content/index.md            -> /              (home page, layout `home`)
  content/404.md              -> /404.html      (optional; a default is built from templates/404.html)
  content/posts/NAME.md       -> /posts/SLUG/   (posts: dated, listed, in the feed; layout `post`)
  content/OTHER/NAME.md       -> /OTHER/NAME/   (pages; `index.md` gives the directory URL; layout `page`)
A Jekyll file name `2024-05-01-slug.md` supplies the date and the slug; `permalink:` overrides the URL.
Other files under content/ are copied beside the pages (see assets.py). URLs are percent-encoded
(links.url_path); output files keep the name as written.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from . import frontmatter
from .errors import BuildFailed, SourceError
from .frontmatter import FrontMatter
from .links import url_path
from .sources import read_text, walk

CONTENT_DIR = "content"
POSTS_DIR = "posts"


@dataclass
class Page:
    source: str  # relative to the site directory, for messages: content/posts/x.md
    path: Path
    url: str  # URL path without the base path, percent-encoded: /posts/x/
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
    """Path under content/ -> (kind, slug, site path (not yet encoded), date from file name)."""
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


def discover(site_dir: Path) -> tuple[list[Path], list[Path], list[SourceError]]:
    """Files under content/: (Markdown pages, other files to copy beside them, links that were refused)."""
    files, errors = walk(site_dir, CONTENT_DIR)
    return [p for p in files if p.suffix == ".md"], [p for p in files if p.suffix != ".md"], errors


def read_page(site_dir: Path, path: Path) -> Page:
    """Read one Markdown file; raise BuildFailed if it cannot be read or its front matter is bad."""
    rel = path.relative_to(site_dir / CONTENT_DIR)
    source = f"{CONTENT_DIR}/{rel.as_posix()}"
    stat = path.stat()
    parsed = frontmatter.parse(read_text(path, source), source)
    kind, slug, site_path, file_date = classify(rel)
    meta = parsed.meta
    if meta.date is None and file_date is not None:
        meta.date = file_date
    if meta.permalink and kind in ("post", "page"):
        site_path = unquote(meta.permalink)
    return Page(source, path, url_path(site_path), url_to_output(site_path), kind, slug, meta, parsed.body,
                parsed.body_line, stat.st_mtime_ns, parsed.yaml_text)


def load_pages(site_dir: Path, drafts: bool, files: list[Path] | None = None) -> tuple[list[Page], list[SourceError]]:
    """Read every Markdown file (`files`, or all under content/); returns the pages to build and the
    errors found (all of them)."""
    errors: list[SourceError] = []
    if files is None:
        files, _, errors = discover(site_dir)
    pages: list[Page] = []
    for path in files:
        try:
            page = read_page(site_dir, path)
        except (frontmatter.FrontMatterError, BuildFailed) as exc:
            errors.extend(exc.errors)
            continue
        if page.meta.draft and not drafts:
            continue
        pages.append(page)
    errors.extend(validate_pages(pages))
    return sort_pages(pages), errors


def validate_pages(pages: list[Page]) -> list[SourceError]:
    """Posts need a date. (Pages that share an output path are found with every other collision, see
    `Site.output_errors`.)"""
    return [SourceError(page.source, 1, "a post needs a date: add 'date: YYYY-MM-DD' to its front matter or "
                                        "name the file YYYY-MM-DD-slug.md")
            for page in pages if page.kind == "post" and page.meta.date is None]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def sort_pages(pages: list[Page]) -> list[Page]:
    """Posts newest first, then everything else by source path: a stable order for deterministic output."""
    posts = sorted((p for p in pages if p.kind == "post"), key=lambda p: (p.date or _EPOCH, p.source), reverse=True)
    others = sorted((p for p in pages if p.kind != "post"), key=lambda p: p.source)
    return posts + others
