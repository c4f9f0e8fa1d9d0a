"""The build pipeline: load the site, render every page (on all cores), check links, write, swap.

Atomic: everything is written into a sibling temporary directory which replaces the output directory only
when the whole build succeeded, so a failed build leaves the previous site untouched.
Deterministic: output depends only on the input files (and SOURCE_DATE_EPOCH, which also sets file
times), never on the clock, the order workers finish in, or the machine.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .assets import copy_assets
from .errors import BuildFailed, SourceError
from .output import write_file
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


# -- parallel rendering ---------------------------------------------------------------------------------
_WORKER_SITE: Site | None = None
_WORKER_OUT: Path | None = None


def _render_in_worker(index: int) -> PageResult:
    """Runs in a forked worker that inherited the loaded Site (templates compiled, parser configured)."""
    assert _WORKER_SITE is not None
    result = _WORKER_SITE.render_page(_WORKER_SITE.pages[index])
    return _finish(result, _WORKER_OUT, _WORKER_SITE.feed_sources)


def _finish(result: PageResult, out: Path | None, keep_body: set[str]) -> PageResult:
    """Write the page now if there is somewhere to write it, and drop what need not travel back
    (the HTML once written, and the body unless the feed shows it)."""
    if out is not None and result.html and not result.errors:
        write_file(out, result.output, result.html.encode("utf-8"))
        result.html = ""
    if result.source not in keep_body:
        result.body = ""
    return result


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def render_pages(site: Site, indexes: list[int], out: Path | None, jobs: int | None = None) -> list[PageResult]:
    """Render the pages at `indexes`, writing them into `out` if given; in parallel for big sites."""
    global _WORKER_SITE, _WORKER_OUT
    jobs = jobs or default_jobs()
    if jobs <= 1 or len(indexes) < PARALLEL_MIN_PAGES or "fork" not in multiprocessing.get_all_start_methods():
        return [_finish(site.render_page(site.pages[i]), out, site.feed_sources) for i in indexes]
    _WORKER_SITE, _WORKER_OUT = site, out
    try:
        # fork: workers start instantly with the parsed templates and configured parser already in memory.
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            chunk = max(1, len(indexes) // (jobs * 8))
            return pool.map(_render_in_worker, indexes, chunksize=chunk)
    finally:
        _WORKER_SITE, _WORKER_OUT = None, None


# -- output directory -----------------------------------------------------------------------------------
def check_output_dir(site_dir: Path, out: Path) -> None:
    """Refuse output paths that would overwrite the sources or a directory we did not build."""
    out_r, site_r = out.resolve(), site_dir.resolve()
    for protected in (site_r, site_r / "content", site_r / "templates", site_r / "static"):
        if out_r == protected or out_r in protected.parents or (protected != site_r and protected in out_r.parents):
            raise BuildFailed([SourceError("--out", None, f"{out} would overwrite the site's own sources")])
    if out_r in site_r.parents:
        raise BuildFailed([SourceError("--out", None, f"{out} contains the site's sources")])
    if out.is_dir() and any(out.iterdir()) and not (out / "index.html").exists():
        raise BuildFailed([SourceError("--out", None, f"refusing to replace {out}: it is not empty and does not "
                                                      "look like a built site (no index.html)")])


def swap_in(tmp: Path, out: Path) -> None:
    """Replace `out` with `tmp`: two renames, so readers see the old or the new site, never a mix."""
    old = out.with_name(f"{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def clamp_times(root: Path, epoch: float) -> None:
    """Give every file and directory the SOURCE_DATE_EPOCH time, so archives of the site are reproducible."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            os.utime(os.path.join(dirpath, name), (epoch, epoch), follow_symlinks=False)
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        for name in dirnames:
            os.utime(os.path.join(dirpath, name), (epoch, epoch))
    os.utime(root, (epoch, epoch))


# -- the pipeline ---------------------------------------------------------------------------------------
def merge_template_errors(errors: list[SourceError]) -> list[SourceError]:
    """A broken layout fails on every page: report each template problem once, saying how many pages hit it."""
    merged: dict[tuple, list] = {}
    others = []
    for error in errors:
        head, sep, _ = error.message.rpartition(" (rendering ")
        if error.path.startswith("templates/") and sep:
            merged.setdefault((error.path, error.line, head), []).append(error)
        else:
            others.append(error)
    for (path, line, head), group in merged.items():
        extra = f" and {len(group) - 1} other page(s)" if len(group) > 1 else ""
        first = group[0].message.rpartition(" (rendering ")[2].removesuffix(")")
        others.append(SourceError(path, line, f"{head} (rendering {first}{extra})"))
    return others


def collect(site: Site, results: list[PageResult]) -> tuple[dict[str, PageResult], dict[str, bytes], list[SourceError]]:
    """Site-wide steps after rendering: generated files and the link check; returns every error."""
    by_source = {r.source: r for r in results}
    errors = list(site.load_errors) + site.layout_errors()
    errors.extend(merge_template_errors([e for r in results for e in r.errors]))
    generated = site.generated_files({r.source: r.body for r in results})
    errors.extend(site.check_links(by_source, set(generated)))
    return by_source, generated, errors


def build(site_dir: Path, out: Path | None = None, drafts: bool = False, base_url: str | None = None,
          jobs: int | None = None) -> BuildReport:
    """Full build into `out` (default `_site/` in the site directory). Raises BuildFailed, leaving `out` as it was."""
    started = time.perf_counter()
    site_dir = site_dir.resolve()
    out = (out or site_dir / DEFAULT_OUT).absolute()
    check_output_dir(site_dir, out)
    site = Site.load(site_dir, drafts=drafts, base_url=base_url)
    report = write_site(site, out, jobs)
    report.seconds = time.perf_counter() - started
    return report


def write_site(site: Site, out: Path, jobs: int | None = None) -> BuildReport:
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        results = render_pages(site, list(range(len(site.pages))), tmp, jobs)
        by_source, generated, errors = collect(site, results)
        if errors:
            raise BuildFailed(errors)
        for name, data in generated.items():
            write_file(tmp, name, data)
        copied = copy_assets(site.plan, tmp, out if out.is_dir() else None)
        epoch = source_date_epoch()
        if epoch is not None:
            clamp_times(tmp, epoch.timestamp())
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildReport(len(site.pages), copied, len(site.plan.entries), 0.0, by_source)


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
