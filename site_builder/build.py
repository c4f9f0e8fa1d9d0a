"""The build pipeline: load the site, render every page (on all cores), check links, write, swap.

Atomic: everything is written into a sibling temporary directory which replaces the output directory only
when the whole build succeeded, so a failed build leaves the previous site untouched.
Deterministic: output depends only on the input files (and SOURCE_DATE_EPOCH, which also sets file
times), never on the clock, the order workers finish in, or the machine.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import output
from .errors import BuildFailed, SourceError
from .site import PageResult, Site, source_date_epoch

DEFAULT_OUT = "_site"
# Below this many pages, starting worker processes costs more than it saves.
PARALLEL_MIN_PAGES = 48


@dataclass
class BuildReport:
    pages: int
    static_copied: int
    static_total: int
    seconds: float
    results: dict[str, PageResult] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # leftovers that could not be cleaned up


# -- parallel rendering ---------------------------------------------------------------------------------
_WORKER_SITE: Site | None = None
_WORKER_OUT: Path | None = None


def _render_in_worker(index: int) -> PageResult:
    """Runs in a forked worker that inherited the loaded Site (templates compiled, parser configured)."""
    assert _WORKER_SITE is not None
    result = _WORKER_SITE.render_page(_WORKER_SITE.pages[index])
    return _finish(result, _WORKER_OUT, _WORKER_SITE.feed_sources)


def _finish(result: PageResult, out: Path | None, keep_content: set[str]) -> PageResult:
    """Write the page now if there is somewhere to write it, and drop what need not travel back
    (the HTML once written, and the content unless the feed shows it)."""
    if out is not None and result.html and not result.errors:
        output.write_file(out, result.output, result.html.encode("utf-8"))
        result.html = ""
    if result.source not in keep_content:
        result.content_html = ""
    return result


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def fork_is_safe() -> bool:
    """fork copies only the calling thread: a lock another thread holds at that moment stays held in the
    child for ever, and the worker hangs. Fork only from a single-threaded process (the `build` command, and
    `serve`, whose server runs in the main thread); anywhere else (an embedding app, a test process with
    server threads) pages render in this process."""
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def render_pages(site: Site, indexes: list[int], out: Path | None, jobs: int | None = None) -> list[PageResult]:
    """Render the pages at `indexes`, writing them into `out` if given; in parallel for big sites."""
    global _WORKER_SITE, _WORKER_OUT
    jobs = jobs or default_jobs()
    if jobs <= 1 or len(indexes) < PARALLEL_MIN_PAGES or not fork_is_safe():
        return [_finish(site.render_page(site.pages[i]), out, site.feed_sources) for i in indexes]
    _WORKER_SITE, _WORKER_OUT = site, out
    try:
        # fork: workers start instantly with the parsed templates and configured parser already in memory.
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            chunk = max(1, len(indexes) // (jobs * 8))
            return pool.map(_render_in_worker, indexes, chunksize=chunk)
    finally:
        _WORKER_SITE, _WORKER_OUT = None, None


# -- the pipeline ---------------------------------------------------------------------------------------
def merge_template_errors(errors: list[SourceError]) -> list[SourceError]:
    """A broken layout fails on every page: report each template problem once, with every page it hit."""
    merged: dict[tuple[str, int | None, str], list[str]] = {}
    others = []
    for error in errors:
        if error.pages:
            merged.setdefault((error.path, error.line, error.message), []).extend(error.pages)
        else:
            others.append(error)
    return others + [SourceError(path, line, message, tuple(pages)) for (path, line, message), pages in merged.items()]


def collect(site: Site, results: list[PageResult]) -> tuple[dict[str, PageResult], dict[str, bytes], list[SourceError]]:
    """Site-wide steps after rendering: generated files and the link check; returns every error."""
    by_source = {r.source: r for r in results}
    errors = list(site.load_errors) + site.layout_errors() + site.output_errors()
    errors.extend(merge_template_errors([e for r in results for e in r.errors]))
    generated = site.generated_files({r.source: r.content_html for r in results})
    errors.extend(site.check_links(by_source, set(generated)))
    return by_source, generated, errors


def build(site_dir: Path, out: Path | None = None, drafts: bool = False, base_url: str | None = None,
          jobs: int | None = None) -> BuildReport:
    """Full build into `out` (default `_site/` in the site directory). Raises BuildFailed, leaving `out` as it was."""
    started = time.perf_counter()
    site_dir = site_dir.resolve()
    out = (out or site_dir / DEFAULT_OUT).absolute()
    output.check_output_dir(site_dir, out)
    site = Site.load(site_dir, drafts=drafts, base_url=base_url)
    report = write_site(site, out, jobs)
    report.seconds = time.perf_counter() - started
    return report


def write_site(site: Site, out: Path, jobs: int | None = None) -> BuildReport:
    """Render everything into a fresh directory beside `out` and swap it in if nothing failed."""
    warnings = output.remove_leftovers(out)
    tmp = output.stage(out)
    try:
        # Pages are written by the workers as they finish, unless two sources claim one path.
        results = render_pages(site, list(range(len(site.pages))), None if site.output_errors() else tmp, jobs)
        by_source, generated, errors = collect(site, results)
        if errors:
            raise BuildFailed(errors)
        for name, data in generated.items():
            output.write_file(tmp, name, data)
        copied = output.copy_assets(site.plan.entries.values(), tmp, out if out.is_dir() else None)
        epoch = source_date_epoch()
        if epoch is not None:
            output.clamp_times(tmp, epoch.timestamp())
        warnings += output.swap_in(tmp, out)
    except OSError as exc:
        output.discard(tmp)
        raise BuildFailed([SourceError(exc.filename or str(tmp), None, f"cannot write the build ({exc.strerror or exc})")]) from None
    except BaseException:
        output.discard(tmp)
        raise
    return BuildReport(len(site.pages), copied, len(site.plan.entries), 0.0, by_source, warnings)


def check(site_dir: Path, drafts: bool = False, base_url: str | None = None,
          jobs: int | None = None) -> tuple[list[SourceError], list[str]]:
    """Everything a build would verify, without writing: returns (errors, warnings)."""
    from .frontmatter import suspicious_keys

    site_dir = site_dir.resolve()
    try:
        site = Site.load(site_dir, drafts=drafts, base_url=base_url)
    except BuildFailed as exc:
        return exc.errors, []
    results = render_pages(site, list(range(len(site.pages))), None, jobs)
    _, _, errors = collect(site, results)
    warnings = []
    for page in site.pages:
        for key, suggestion in suspicious_keys(page.meta):
            warnings.append(f"{page.source}: unknown front matter key '{key}' (did you mean '{suggestion}'?)")
    return BuildFailed(errors).errors, warnings
