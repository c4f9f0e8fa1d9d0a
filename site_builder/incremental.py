"""Rebuilding after an edit during `serve`, touching only what the edit affects.

What a change costs:
- the text of a page (front matter that other pages show unchanged): that page, plus feed.xml;
- a verbatim static file (an image, the model): that file copied, plus the pages that show it;
- anything else (site.yml, a template, a fingerprinted CSS/JS file, a title/date/summary/tags/layout
  change, a page added or removed): a full build, because any layout may list every page.
Every update is all-or-nothing: if it fails, nothing is written and the last good site keeps being served.
"""
from __future__ import annotations

import os
import time
from pathlib import Path, PurePosixPath

from . import frontmatter, highlight
from .assets import STATIC_DIR, plan_assets, under_any
from .build import render_pages, write_site
from .config import CONFIG_FILE
from .errors import BuildFailed, SourceError
from .output import update_in_place
from .pages import CONTENT_DIR, discover, read_page
from .site import GENERATED_CSS, PageResult, Site
from .sources import walk_entries
from .templates import TEMPLATES_DIR

WATCHED = (CONFIG_FILE, CONTENT_DIR, TEMPLATES_DIR, STATIC_DIR)


class IncrementalBuilder:
    """The last good build kept in memory (loaded site, every page's links and ids, a snapshot of the
    sources), so an edit is compared with it and only the difference is rendered and written."""

    def __init__(self, site_dir: Path, out: Path, drafts: bool = False, base_url: str | None = None):
        self.site_dir = site_dir.resolve()
        self.out = out.absolute()
        self.drafts = drafts
        self.base_url = base_url
        self.site: Site | None = None
        self.results: dict[str, PageResult] = {}
        self.generated: dict[str, bytes] = {}
        self.snapshot: dict[str, tuple[int, int]] = {}
        self.error: BuildFailed | None = None
        self.last_kind = ""
        self.last_seconds = 0.0

    def scan(self) -> dict[str, tuple[int, int]]:
        """(mtime, size) of every watched file, keyed by path relative to the site directory (editor
        backups excluded; a refused symbolic link counts as a file, so adding or fixing one is a change)."""
        found: dict[str, tuple[int, int]] = {}
        for top in WATCHED:
            root = self.site_dir / top
            if root.is_file():
                st = root.stat()
                found[top] = (st.st_mtime_ns, st.st_size)
                continue
            refused: list[SourceError] = []
            for name, entry in walk_entries(self.site_dir, top, refused):
                if name.endswith(("~", ".swp")):
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                found[name] = (st.st_mtime_ns, st.st_size)
            for error in refused:
                try:
                    st = os.lstat(self.site_dir / error.path)
                except FileNotFoundError:
                    continue
                found[error.path] = (st.st_mtime_ns, -1)
        return found

    # -- entry points -----------------------------------------------------------------------------------
    def full(self) -> None:
        """Build everything (atomically) and remember it as the last good state."""
        started = time.perf_counter()
        snapshot = self.scan()
        try:
            site = Site.load(self.site_dir, drafts=self.drafts, base_url=self.base_url)
            report = write_site(site, self.out)
        except BuildFailed as exc:
            self.error = exc
            raise
        self._remember(site, report.results, snapshot)
        self.last_kind, self.last_seconds = "full", time.perf_counter() - started

    def update(self) -> str:
        """Apply whatever changed since the last good build; returns what was done. Raises BuildFailed."""
        started = time.perf_counter()
        snapshot = self.scan()
        changed = {k for k in snapshot.keys() | self.snapshot.keys() if snapshot.get(k) != self.snapshot.get(k)}
        if not changed and self.error is None:
            return "nothing"
        try:
            kind = self._apply(changed, snapshot)
        except BuildFailed as exc:
            self.error = exc
            raise
        self.error = None
        self.last_kind, self.last_seconds = kind, time.perf_counter() - started
        return kind

    # -- internals --------------------------------------------------------------------------------------
    def _remember(self, site: Site, results: dict[str, PageResult], snapshot: dict[str, tuple[int, int]]) -> None:
        self.site, self.results, self.snapshot, self.error = site, results, snapshot, None
        self.generated = site.generated_files({s: r.content_html for s, r in results.items()})
        # Workers did the rendering; render one page here too so the first edit finds parsers and lexers loaded.
        if site.pages:
            site.render_page(max(site.pages, key=lambda p: p.mtime_ns))

    def _full(self, snapshot: dict[str, tuple[int, int]]) -> str:
        site = Site.load(self.site_dir, drafts=self.drafts, base_url=self.base_url)
        report = write_site(site, self.out)
        self._remember(site, report.results, snapshot)
        return "full"

    def _apply(self, changed: set[str], snapshot: dict[str, tuple[int, int]]) -> str:
        site = self.site
        if site is None or self.error is not None and not self.results:
            return self._full(snapshot)
        if any(c == CONFIG_FILE or c.startswith(TEMPLATES_DIR + "/") for c in changed):
            return self._full(snapshot)
        versioned = site.config.fingerprint_dirs + site.config.bundle_dirs
        markdown = sorted(c for c in changed if c.startswith(CONTENT_DIR + "/") and c.endswith(".md"))
        files = sorted(c for c in changed if c not in markdown and c.startswith((STATIC_DIR + "/", CONTENT_DIR + "/")))
        if any(c.startswith(STATIC_DIR + "/") and under_any(PurePosixPath(c[len(STATIC_DIR) + 1:]), versioned) for c in files):
            return self._full(snapshot)  # a fingerprinted URL changes on every page

        # Pages whose text changed, if nothing that other pages show changed with them.
        pages = []
        for source in markdown:
            path = self.site_dir / source
            if not path.exists():
                return self._full(snapshot)
            try:
                page = read_page(self.site_dir, path)
            except frontmatter.FrontMatterError as exc:
                raise BuildFailed(exc.errors) from None
            old = site.by_source.get(source)
            if old is None or page.meta.draft and not self.drafts or old.listing_key() != page.listing_key():
                return self._full(snapshot)
            if page.meta.extra != old.meta.extra:
                return self._full(snapshot)
            pages.append(page)
        rerender = {page.source for page in pages}

        plan, copies, removed = site.plan, {}, set()
        if files:
            _, other_files, walk_errors = discover(self.site_dir)
            plan, plan_errors = plan_assets(self.site_dir, site.config, {GENERATED_CSS: highlight.stylesheet().encode()},
                                            other_files)
            if walk_errors or plan_errors:
                raise BuildFailed(walk_errors + plan_errors)
            copies = {out: entry.src for out, entry in plan.entries.items()
                      if entry.src is not None and _rel(self.site_dir, entry.src) in files}
            removed = set(site.plan.entries) - set(plan.entries)
            rerender |= {source for source, result in self.results.items() if result.images & (set(copies) | removed)}

        # Render in memory first; nothing is written unless everything succeeds.
        new = site.with_changes(pages, plan)
        if new.generated_names() != site.generated_names():
            return self._full(snapshot)  # a robots.txt of the author's came or went
        fresh = render_pages(new, [i for i, p in enumerate(new.pages) if p.source in rerender], None)
        results = {**self.results, **{r.source: r for r in fresh}}
        errors = list(new.load_errors) + (new.output_errors() if files else []) + [e for r in fresh for e in r.errors]
        errors += new.check_links(results, set(self.generated))
        if errors:
            raise BuildFailed(errors)
        generated = dict(self.generated)
        if new.feed_sources & rerender:
            generated["feed.xml"] = new.feed_xml({s: r.content_html for s, r in results.items()})

        files_out = {r.output: r.html.encode("utf-8") for r in fresh}
        files_out.update({name: data for name, data in generated.items() if self.generated.get(name) != data})
        update_in_place(self.out, files_out, copies, removed)
        for result in fresh:
            result.html = ""
        self.site, self.results, self.generated, self.snapshot = new, results, generated, snapshot
        parts = [f"{len(fresh)} page(s)"] + ([f"{len(copies)} file(s)"] if copies else [])
        return "incremental: " + ", ".join(parts)


def _rel(site_dir: Path, path: Path) -> str:
    return path.relative_to(site_dir).as_posix()
