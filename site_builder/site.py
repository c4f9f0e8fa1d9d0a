"""A loaded site: config, templates, assets and pages, and how to render any one page to HTML.

This is the "files -> pages -> HTML" middle of the pipeline; build.py decides what to render and where
the results go. Rendering a page never writes anything, so `check`, `build` and `serve` share it.
"""
from __future__ import annotations

import copy
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import jinja2
from markupsafe import Markup

from . import feeds, highlight, links, liquid
from .assets import AssetError, AssetPlan, plan_assets
from .config import CONFIG_FILE, SiteConfig, load_config
from .errors import BuildFailed, SourceError
from .frontmatter import FrontMatter
from .images import ImageError, image_size
from .markdown_renderer import MarkdownRenderer, RenderHooks
from .output import Claim, collisions
from .pages import CONTENT_DIR, Page, discover, load_pages, url_to_output
from .templates import TEMPLATES_DIR, filters, layout_names, make_environment
from .yaml_source import key_line

GENERATED_CSS = "css/pygments.css"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def source_date_epoch() -> dt.datetime | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) as a datetime, if set."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(int(value), tz=dt.timezone.utc)
    except (ValueError, OverflowError):
        raise BuildFailed([SourceError("SOURCE_DATE_EPOCH", None, f"must be a Unix time in seconds, got '{value}'")])


@dataclass
class PageResult:
    """What rendering one page produced; small enough to send back from a worker process."""

    source: str
    output: str
    html: str  # the whole page, layout included
    content_html: str  # the page's own content (Markdown rendered), for the feed
    links: list[tuple[str, int, str]] = field(default_factory=list)  # (href, line, kind)
    ids: set[str] = field(default_factory=set)  # every element id in `html`, for anchor checks
    images: set[str] = field(default_factory=set)  # output paths of images it shows
    errors: list[SourceError] = field(default_factory=list)


class Site:
    """Everything needed to render pages; built once per full build (and per template/config change).
    It is not changed once made: an edit during `serve` makes a new one (`with_changes`)."""

    def __init__(self, site_dir: Path, config: SiteConfig, pages: list[Page], plan: AssetPlan,
                 env: jinja2.Environment, errors: list[SourceError], drafts: bool):
        self.site_dir = site_dir
        self.config = config
        self.plan = plan
        self.env = env
        self.liquid_env = liquid.make_environment(filters(config))
        self.drafts = drafts
        self.load_errors = errors
        self.renderer = MarkdownRenderer()
        self.layouts = set(layout_names(site_dir))
        self.time = source_date_epoch()
        self._install_pages(pages)

    # -- loading ------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, site_dir: Path, drafts: bool = False, base_url: str | None = None) -> "Site":
        """Read config, templates, static files and content. Config errors raise; the rest are collected."""
        config = load_config(site_dir, base_url)
        if not (site_dir / TEMPLATES_DIR).is_dir():
            raise BuildFailed([SourceError(TEMPLATES_DIR, None, f"directory not found in {site_dir}")])
        markdown, other_files, errors = discover(site_dir)
        plan, asset_errors = plan_assets(site_dir, config, {GENERATED_CSS: highlight.stylesheet().encode()},
                                         other_files)
        pages, page_errors = load_pages(site_dir, drafts, markdown)
        errors += asset_errors + page_errors
        return cls(site_dir, config, pages, plan, make_environment(site_dir, config), errors, drafts)

    def with_changes(self, pages: Iterable[Page] = (), plan: AssetPlan | None = None) -> "Site":
        """A new site with some pages re-read and/or a new asset plan, sharing everything else (templates,
        parsers, listings); this one is left as it was. The pages must list as before (same URL, title,
        date ...: `Page.listing_key`), since every page may show the listings; otherwise load a new site."""
        new = copy.copy(self)
        replaced = {page.source: page for page in pages}
        for source, page in replaced.items():
            if self.by_source[source].listing_key() != page.listing_key():
                raise ValueError(f"{source} lists differently now: load the site again")
        if replaced:
            new.pages = [replaced.get(p.source, p) for p in self.pages]
            new.by_source = {**self.by_source, **replaced}
            new.posts = [replaced.get(p.source, p) for p in self.posts]
        if plan is not None:
            new.plan = plan
        return new

    def _install_pages(self, pages: list[Page]) -> None:
        """Install the page list and everything derived from it (once, when the site is made)."""
        pages = list(pages)
        kinds = {p.kind for p in pages}
        if "home" not in kinds:
            pages.append(self._virtual("home", "/", self.config.title))
        if "404" not in kinds:
            pages.append(self._virtual("404", "/404.html", "Page not found"))
        self.pages = pages
        self.by_source = {p.source: p for p in pages}
        self.posts = [p for p in pages if p.kind == "post"]
        self.post_index = {p.source: i for i, p in enumerate(self.posts)}
        self.feed_sources = {p.source for p in self.posts[:feeds.FEED_ENTRIES]}
        newest = max((p.date for p in pages if p.date), default=None)
        self.site_time = self.time or newest or _EPOCH
        self.site_view = self._site_view()

    def _virtual(self, kind: str, url: str, title: str) -> Page:
        source = f"{TEMPLATES_DIR}/{kind}.html"
        return Page(source, self.site_dir / source, url, url_to_output(url), kind, kind,
                    FrontMatter(title=title), "", 1)

    def layout_errors(self) -> list[SourceError]:
        errors = []
        for page in self.pages:
            if page.layout not in self.layouts:
                known = ", ".join(sorted(self.layouts)) or "none"
                line = key_line(page.yaml_text, ("layout",), first_line=2) if page.meta.layout else 1
                errors.append(SourceError(page.source, line, f"unknown layout '{page.layout}' "
                                                             f"(no {TEMPLATES_DIR}/{page.layout}.html; layouts: {known})"))
        return errors

    # -- template variables ------------------------------------------------------------------------------
    def _summary(self, page: Page) -> dict[str, Any]:
        m = page.meta
        return {"title": page.title, "url": page.url, "date": m.date, "summary": m.summary, "tags": list(m.tags),
                "image": m.image, "kind": page.kind, "source": page.source}

    def _site_view(self) -> dict[str, Any]:
        c = self.config
        posts = [self._summary(p) for p in self.posts]
        tags: dict[str, list[dict[str, Any]]] = {}
        for post in posts:
            for tag in post["tags"]:
                tags.setdefault(tag, []).append(post)
        return {
            "title": c.title, "description": c.description, "author": c.author, "language": c.language,
            "url": c.url, "baseurl": c.baseurl, "base_url": c.base_url, "base_path": c.base_path,
            "navigation": [{"title": n.title, "url": n.url} for n in c.navigation],
            "posts": posts, "pages": [self._summary(p) for p in self.pages if p.kind == "page"],
            "tags": dict(sorted(tags.items())), "time": self.site_time,
        }

    def page_view(self, page: Page) -> dict[str, Any]:
        view: dict[str, Any] = {"draft": page.meta.draft, "layout": page.layout, "toc": [], "body_has_title": False,
                                "prev": None, "next": None, "permalink": page.meta.permalink}
        view.update(page.meta.extra)
        view.update(self._summary(page))
        if page.kind == "post":
            i = self.post_index[page.source]
            view["next"] = self._summary(self.posts[i - 1]) if i > 0 else None  # newer
            view["prev"] = self._summary(self.posts[i + 1]) if i + 1 < len(self.posts) else None  # older
        return view

    # -- URL handling for Markdown -----------------------------------------------------------------------
    def _page_url(self, page: Page) -> str:
        return self.config.relative_url(page.url)

    def _rewrite_url(self, page: Page, href: str) -> str:
        return links.rewrite(href, page.source, self.config, self._source_url, self.plan.entries)

    def _source_url(self, source: str) -> str | None:
        other = self.by_source.get(source)
        return other.url if other is not None else None

    def _image_size(self, page: Page, src: str, line: int, errors: list[tuple[int, str]],
                    used: set[str]) -> tuple[int, int] | None:
        target, _, _ = links.resolve(src, self._page_url(page), self.config.base_path, self.plan.entries)
        if not target:
            return None  # remote (not ours to measure), or missing (reported by the link check)
        entry = self.plan.entries[target]
        used.add(entry.out)
        if entry.src is None:
            return None
        try:
            return image_size(entry.src)
        except ImageError as exc:
            errors.append((line, f"image '{src}': {exc}"))
            return None

    # -- rendering ---------------------------------------------------------------------------------------
    def _include(self, name: str, params: dict[str, Any], variables: dict[str, Any]) -> str:
        """`{% include name.html %}` in Markdown: a trusted Jinja2 template from templates/."""
        try:
            template = self.env.get_template(name)
        except jinja2.TemplateNotFound:
            raise LookupError(f"include '{name}' not found in {TEMPLATES_DIR}/") from None
        try:
            return template.render({**variables, "include": params, "asset_url": self.plan.asset_url})
        except Exception as exc:
            where = self._template_location(exc) or (f"{TEMPLATES_DIR}/{name}", None)
            message = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
            raise LookupError(f"in include {where[0]}" + (f":{where[1]}" if where[1] else "") + f": {message}") from None

    def _template_location(self, exc: BaseException) -> tuple[str, int | None] | None:
        """Deepest templates/ file and line in a Jinja traceback, for error messages."""
        root = str(self.site_dir / TEMPLATES_DIR)
        found = None
        if isinstance(exc, jinja2.TemplateSyntaxError) and exc.filename:
            return os.path.relpath(exc.filename, self.site_dir), exc.lineno
        tb = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.startswith(root):
                found = (os.path.relpath(filename, self.site_dir), tb.tb_lineno)
            tb = tb.tb_next
        return found

    def _special_url(self, kind: str, name: str) -> str:
        if kind == "post_url":
            for post in self.posts:
                if post.path.stem == name or post.slug == name:
                    return self._page_url(post)
            raise LookupError(f"post_url: no post named '{name}' in {CONTENT_DIR}/posts/")
        page = self.by_source.get(name) or self.by_source.get(f"{CONTENT_DIR}/{name}")
        if page is None:
            raise LookupError(f"link: no page '{name}'")
        return self._page_url(page)

    def _liquid_hooks(self) -> liquid.Hooks:
        return liquid.Hooks(self._include, lambda name: self._special_url("post_url", name),
                            lambda name: self._special_url("link", name))

    def render_page(self, page: Page) -> PageResult:
        """Front matter is already read; run Liquid, Markdown and the layout. Never raises for bad input."""
        result = PageResult(page.source, page.output, "", "")
        view = self.page_view(page)
        try:
            liquid_out = liquid.render(page.body, page.body_line, self.liquid_env,
                                       {"site": self.site_view, "page": view}, self._liquid_hooks())
        except liquid.LiquidError as exc:
            result.errors.append(SourceError(page.source, exc.line, str(exc)))
            return result

        md_errors: list[tuple[int, str]] = []
        hooks = RenderHooks(
            rewrite_url=lambda href, line, errs: self._rewrite_url(page, href),
            image_size=lambda src, line, errs: self._image_size(page, src, line, errs, result.images),
        )
        rendered = self.renderer.render(liquid_out.text, page.body_line, hooks)
        md_errors.extend(rendered.errors)
        body = rendered.html
        if liquid_out.includes:
            body = liquid.insert_includes(body, liquid_out.includes)
        result.errors.extend(SourceError(page.source, line, msg) for line, msg in md_errors)
        result.links = [(link.url, link.line, link.kind) for link in rendered.links]
        if page.meta.image:
            line = key_line(page.yaml_text, ("image",), first_line=2) or 1
            result.links.append((self._rewrite_url(page, page.meta.image), line, "image"))

        view["toc"] = nest_toc(rendered.toc)
        view["body_has_title"] = rendered.first_heading is not None
        if not page.meta.title and rendered.first_heading:
            view["title"] = rendered.first_heading
        if page.layout not in self.layouts:
            return result  # reported once by layout_errors()
        try:
            html = self.env.get_template(f"{page.layout}.html").render(site=self.site_view, page=view,
                                                                       content=Markup(body),
                                                                       asset_url=self.plan.asset_url)
        except Exception as exc:  # a template bug or a bad asset_url(): blame the template line
            where = self._template_location(exc) or (f"{TEMPLATES_DIR}/{page.layout}.html", None)
            message = exc.message if isinstance(exc, jinja2.TemplateError) and exc.message else str(exc)
            if isinstance(exc, (AssetError, LookupError)):
                message = str(exc).strip("'\"")
            result.errors.append(SourceError(where[0], where[1], message, pages=(page.source,)))
            return result
        result.html = html
        result.content_html = body
        result.ids = links.html_ids(html)
        return result

    # -- site-wide outputs -------------------------------------------------------------------------------
    def feed_entries(self, contents: dict[str, str]) -> list[feeds.FeedEntry]:
        return [feeds.FeedEntry(p.title, p.url, p.date or _EPOCH, p.meta.summary, contents.get(p.source, ""),
                                p.meta.tags) for p in self.posts[:feeds.FEED_ENTRIES]]

    def feed_xml(self, contents: dict[str, str]) -> bytes:
        """`contents`: source -> `PageResult.content_html` (only the newest posts' are needed)."""
        return feeds.atom_feed(self.config, self.feed_entries(contents), self.site_time).encode()

    def generated_names(self) -> list[str]:
        """The files made from the page list; a robots.txt of the author's (static/ or content/) replaces ours."""
        return ["feed.xml", "sitemap.xml"] + ([] if "robots.txt" in self.plan.entries else ["robots.txt"])

    def generated_files(self, contents: dict[str, str]) -> dict[str, bytes]:
        """feed.xml, sitemap.xml and robots.txt, from the page list (and the newest posts' contents)."""
        listed = [(p.url, p.date) for p in sorted(self.pages, key=lambda p: p.url) if p.kind != "404"]
        files = {
            "feed.xml": self.feed_xml(contents),
            "sitemap.xml": feeds.sitemap(self.config, listed).encode(),
            "robots.txt": feeds.robots_txt(self.config).encode(),
        }
        return {name: files[name] for name in self.generated_names()}

    def output_errors(self) -> list[SourceError]:
        """Two sources for one output path (or a file where a folder must be) is an error naming both, so
        no page or file is ever silently replaced by another."""
        claims = [Claim(name, f"the generated {name}") for name in self.generated_names()]
        for page in self.pages:
            if page.source.startswith(TEMPLATES_DIR + "/"):
                claims.insert(0, Claim(page.output, f"the generated {page.kind} page ({page.source})"))
            else:
                line = key_line(page.yaml_text, ("permalink",), first_line=2) if page.meta.permalink else None
                claims.append(Claim(page.output, page.source, line))
        return collisions(claims + self.plan.claims)

    def nav_links(self) -> list[tuple[links.LinkSource, str, int, str]]:
        text = (self.site_dir / CONFIG_FILE).read_text(encoding="utf-8")
        where = links.LinkSource(CONFIG_FILE, self.config.base_path, None)
        return [(where, self.config.relative_url(item.url), key_line(text, ("navigation", i, "url")) or 1, "link")
                for i, item in enumerate(self.config.navigation)]

    def check_links(self, results: dict[str, PageResult], generated: set[str]) -> list[SourceError]:
        outputs = set(self.plan.entries) | generated | {r.output for r in results.values()}
        ids = {r.output: r.ids for r in results.values() if not r.errors}  # a failed page's ids are unknown
        items = list(self.nav_links())
        for page in self.pages:
            result = results.get(page.source)
            if result is None:
                continue
            where = links.LinkSource(page.source, self._page_url(page), page.output)
            items.extend((where, href, line, kind) for href, line, kind in result.links)
        return links.check_links(items, outputs, ids, self.config.base_path)


def nest_toc(headings: list[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """Flat (level, id, text) h2/h3 headings -> h2 entries with their h3s as `children`."""
    toc: list[dict[str, Any]] = []
    for level, anchor, text in headings:
        entry = {"level": level, "id": anchor, "title": text, "children": []}
        if level == 3 and toc and toc[-1]["level"] == 2:
            toc[-1]["children"].append(entry)
        else:
            toc.append(entry)
    return toc
