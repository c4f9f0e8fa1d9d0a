"""Build speed: full builds of N realistic posts and a one-file incremental rebuild as `serve` does it.

Each generated post has front matter, about 1,000 words, two fenced code blocks, a table, inline and
display math, a footnote and an image. Targets (issue 2): a full build of 1,000 posts under 5 ms per page
on a 2-core machine, and an incremental rebuild of one post under 100 ms.

    python bench/build_speed.py                 # N = 100 and 1000
    python bench/build_speed.py --sizes 50      # quick look
    python bench/build_speed.py --profile 200   # where a page's time goes: latex2mathml, Pygments, the rest
    python bench/build_speed.py --headings 20000  # one page with 20,000 identical headings (linear ids)

Figures are medians over repeated runs with the spread (min-max); the machine's load average is printed
first, since other work on the machine slows every figure.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from site_builder import highlight, mathml  # noqa: E402
from site_builder.build import build, default_jobs  # noqa: E402
from site_builder.incremental import IncrementalBuilder  # noqa: E402
from site_builder.site import Site  # noqa: E402

WORDS = ("the style content attention feature encoder decoder network image painting photo layer channel "
         "position weight mean variance softmax matrix output input browser worker model tensor memory "
         "kernel convolution gradient training loss value query key scale shift texture colour stroke").split()

CODE = '''```python
def attention_{i}(f_c, f_s):
    """Scaled dot-product attention over style positions."""
    q = mvn(f_c) @ w_f
    k = mvn(f_s) @ w_g
    scores = softmax(q @ k.T, axis=-1)
    return scores @ (f_s @ w_h) * {i}
```'''
JS = '''```js
const worker = new Worker(new URL("./worker.js", import.meta.url), {{ type: "module" }});
worker.postMessage({{ kind: "stylize", content, style, iterations: {i} }});
worker.onmessage = (event) => render(event.data);
```'''
TABLE = """| Layer | Channels | Stride | Positions at 512 px |
|:------|---------:|-------:|--------------------:|
| relu1_1 | 64 | 1 | 262144 |
| relu4_1 | 512 | 8 | 4096 |
| relu5_1 | 512 | 16 | 1024 |"""


def paragraph(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def post(i: int, rng: random.Random) -> str:
    parts = [
        "---",
        f"title: Post number {i} about attention",
        f"date: 2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
        f"summary: A generated post ({i}) for the build benchmark.",
        "tags: [benchmark, attention]",
        "image: /images/figure.png",
        "---",
        "",
        paragraph(rng, 120) + f" Inline math $F_c^{{r_{{{i}}}}} = \\bar{{F^i_c}}$ sits in the sentence.[^n]",
        "",
        "## Attention",
        "",
        paragraph(rng, 150),
        "",
        "$$",
        f"F_{{cs}}^{{{i}}} = \\frac{{1}}{{C(F)}} \\sum_{{\\forall j}} \\exp\\left(\\bar{{F^i_c}}^T \\bar{{F^j_s}}\\right) H(F_s^j)",
        "$$",
        "",
        paragraph(rng, 150),
        "",
        CODE.format(i=i),
        "",
        "## Layers",
        "",
        TABLE,
        "",
        paragraph(rng, 150) + f" Also $W \\times H_{{{i}}}$ and \\(x^T y\\).",
        "",
        '![A generated figure](/images/figure.png "Figure for the benchmark")',
        "",
        "## Running it",
        "",
        paragraph(rng, 150),
        "",
        JS.format(i=i),
        "",
        paragraph(rng, 150),
        "",
        "### Details",
        "",
        paragraph(rng, 130),
        "",
        "[^n]: A footnote with a [link to the first post](/posts/post-0000/).",
        "",
    ]
    return "\n".join(parts)


def make_site(root: Path, n: int) -> Path:
    from PIL import Image

    site = root / f"site-{n}-{len(list(root.iterdir()))}"
    for name in ("templates", "static/css"):
        (site / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "templates", site / "templates")
    shutil.copytree(ROOT / "static" / "css", site / "static" / "css")
    shutil.copy(ROOT / "static" / "favicon.svg", site / "static" / "favicon.svg")
    (site / "static" / "images").mkdir(parents=True)
    Image.new("RGB", (640, 360), (40, 90, 160)).save(site / "static" / "images" / "figure.png")
    (site / "site.yml").write_text(
        "title: Benchmark\nauthor: Bench\ndescription: Generated posts\n"
        "base_url: https://example.github.io/bench/\n")
    posts = site / "content" / "posts"
    posts.mkdir(parents=True)
    rng = random.Random(n)
    for i in range(n):
        (posts / f"post-{i:04d}.md").write_text(post(i, rng))
    return site


def cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def full_build(site: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of a cold full build into an empty output directory."""
    out = site / "_site"
    shutil.rmtree(out, ignore_errors=True)
    cpu, started = cpu_seconds(), time.perf_counter()
    build(site, out)
    return time.perf_counter() - started, cpu_seconds() - cpu


def incremental(site: Path, repeats: int = 7) -> list[float]:
    builder = IncrementalBuilder(site, site / "_serve")
    builder.full()
    target = site / "content" / "posts" / "post-0003.md"
    original = target.read_text()
    times = []
    for k in range(repeats):
        target.write_text(original.replace("## Attention", f"## Attention\n\nEdit number {k}."))
        stat = target.stat()
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000 * (k + 1)))
        started = time.perf_counter()
        what = builder.update()
        times.append(time.perf_counter() - started)
        assert what.startswith("incremental"), what
    return times


@contextlib.contextmanager
def timed(module, name: str, totals: dict[str, list[float]]):
    """Replace `module.name` by a wrapper that adds each call's duration to totals[name] = [seconds, calls]."""
    original = getattr(module, name)
    totals[name] = [0.0, 0]

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name][0] += time.perf_counter() - started
            totals[name][1] += 1
    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, original)


def spread(values: list[float], scale: float = 1000.0, unit: str = "ms") -> str:
    return (f"median {statistics.median(values) * scale:.2f} {unit} "
            f"(min {min(values) * scale:.2f}, max {max(values) * scale:.2f}, {len(values)} runs)")


def profile(tmp: Path, n: int, repeats: int = 5) -> None:
    """Render N generated posts in this process (one core, caches cold) and split a page's time between
    latex2mathml (TeX to MathML), Pygments (code colouring) and everything else."""
    site_dir = make_site(tmp, n)
    site = Site.load(site_dir)
    posts = [p for p in site.pages if p.kind == "post"]
    site.render_page(posts[0])  # parsers, lexers and templates loaded, as in a worker
    per_page: dict[str, list[float]] = {"total": [], "convert": [], "highlight": []}
    calls: dict[str, int] = {}
    for _ in range(repeats):
        mathml.tex_to_mathml.cache_clear()
        totals: dict[str, list[float]] = {}
        with timed(mathml, "convert", totals), timed(highlight, "highlight", totals):
            started = time.perf_counter()
            for page in posts:
                site.render_page(page)
            elapsed = time.perf_counter() - started
        per_page["total"].append(elapsed / len(posts))
        for name in ("convert", "highlight"):
            per_page[name].append(totals[name][0] / len(posts))
            calls[name] = totals[name][1]
    rest = [t - c - h for t, c, h in zip(per_page["total"], per_page["convert"], per_page["highlight"])]
    print(f"in-process render of {len(posts)} posts, one core (each: {calls['convert'] / len(posts):.0f} "
          f"latex2mathml conversions, {calls['highlight'] / len(posts):.0f} Pygments blocks), per page:")
    print(f"  all of it     {spread(per_page['total'])}")
    print(f"  latex2mathml  {spread(per_page['convert'])}")
    print(f"  Pygments      {spread(per_page['highlight'])}")
    print(f"  the rest      {spread(rest)}  (Markdown, Liquid, layout, link collection)")


def headings(tmp: Path, n: int, repeats: int = 3) -> None:
    """A full build of one page holding N identical `##` headings (ids same-heading, -1, -2 ...)."""
    site = make_site(tmp, 0)
    (site / "content" / "posts" / "same.md").write_text(
        "---\ntitle: Same\ndate: 2024-01-01\n---\n\n" + "## Same heading\n\nText.\n\n" * n)
    times = []
    for _ in range(repeats):
        shutil.rmtree(site / "_site", ignore_errors=True)
        started = time.perf_counter()
        build(site, site / "_site")
        times.append(time.perf_counter() - started)
    html = (site / "_site" / "posts" / "same" / "index.html").read_text()
    assert f'id="same-heading-{n - 1}"' in html
    print(f"full build of one page with {n} identical headings: {spread(times, 1.0, 's')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--profile", type=int, metavar="N", help="only split a page's render time (N posts)")
    parser.add_argument("--headings", type=int, metavar="N", help="only time one page with N identical headings")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"site_builder benchmark: {default_jobs()} worker processes, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average before: {load}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.profile or args.headings:
            if args.profile:
                profile(Path(tmp), args.profile)
            if args.headings:
                headings(Path(tmp), args.headings)
            return
        for n in args.sizes:
            site = make_site(Path(tmp), n)
            runs = [full_build(site) for _ in range(2)]
            best, cpu = min(runs)
            pages = n + 2  # posts + home + 404
            print(f"full build, N={n:>5}: {best:6.2f} s  = {best / pages * 1000:5.2f} ms/page "
                  f"(best of {len(runs)}; {pages} pages; {cpu / pages * 1000:.2f} ms of CPU per page)")
        site = make_site(Path(tmp), max(args.sizes))
        times = incremental(site)
        print(f"incremental rebuild of one post (N={max(args.sizes)}): median {statistics.median(times) * 1000:.1f} ms, "
              f"max {max(times) * 1000:.1f} ms over {len(times)} edits")


if __name__ == "__main__":
    main()
