"""Stylizer speed in headless Chromium on the built site, and the same code (static/stylizer/sanet.js) on Node.

python bench/browser.py [--only backends,rerun,preview,selftest,node] [--backends wasm,webgl] [--threads 1,2]
    [--sizes 256,512,1024] [--webgl-sizes 256,512] [--runs 3] [--model DIR] [--skip-first] [--json FILE]

Builds the site (site_builder, as the README does), serves it on localhost under /repo/ (the site's service
worker makes the page cross-origin isolated, as on GitHub Pages) and measures, each figure the median of
--runs runs with its spread (min-max):
- backends: for each backend (forced with the widget's data-force-backend) and, on WASM, each --threads value
  (data-threads): model bytes, cold load (fresh profile: service worker, reload, download, verify, self-test,
  compile, warm-up, until data-state=ready), warm load (reload: model from the Cache API), the first
  stylization after ready at 512 px, and each size (1 iteration, alpha 1, a 4:3 photo and a 512 px style,
  both chosen again before every run so nothing is kept, preview off). Records the WASM binary and thread
  count the worker reports.
- rerun: a strength-only re-run at 512 px (WASM, all threads): after a run, only alpha changes, so the worker
  blends kept features and decodes once (the graph executions are recorded to show it).
- preview: time to the first picture (the 256 px preview) and to the full 512 px result.
- selftest: the backend self-test's own timings on an unforced page (what picks the backend), per backend.
- node: bench/tfjs_node.mjs on the same model (TF.js on Node, WASM, one thread).
Prints each figure as it is measured (stderr), then Markdown tables. Figures depend on the machine and its
load: run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.browser.sitekit import build_site, pattern, write_test_page  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, serve_directory  # noqa: E402

TIMEOUT_MS = 1_800_000
SECTIONS = ("backends", "rerun", "preview", "selftest", "node")


def note(what: str, seconds: float) -> None:
    """Each figure as soon as it is measured: a long WebGL run cut short still leaves its figures."""
    print(f"  {what}: {seconds:.2f} s", file=sys.stderr, flush=True)


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def fmt(s: dict | None) -> str:
    if not s:
        return "not run"
    if len(s["runs"]) == 1:
        return f"{s['median']:.2f} s (1 run)"
    return f"{s['median']:.2f} s ({s['min']:.2f}-{s['max']:.2f}, {len(s['runs'])} runs)"


class Widget:
    """One page with one stylizer, driven as a reader would."""

    def __init__(self, browser, url: str, content: Path, style: Path):
        self.ctx = browser.new_context()
        self.page = self.ctx.new_page()
        self.url, self.content, self.style = url, content, style

    def close(self):
        self.ctx.close()

    def wait_state(self, states, timeout=TIMEOUT_MS) -> str:
        self.page.wait_for_function("s => s.includes(document.querySelector('.stylizer')?.dataset.state)",
                                    arg=list(states), timeout=timeout, polling=50)
        return self.page.get_attribute(".stylizer", "data-state")

    def load(self, reload: bool = False) -> float:
        t = time.perf_counter()
        self.page.reload() if reload else self.page.goto(self.url)
        state = self.wait_state(["ready", "error"])
        assert state == "ready", self.page.text_content("[data-role=status]")
        return time.perf_counter() - t

    def info(self) -> dict:
        return self.page.evaluate("""(() => { const i = document.querySelector('.stylizer').stylizer.engine.info;
            return {timings: i.timings, stats: i.stats, backend: i.backend, coi: i.crossOriginIsolated,
                    wasm: i.wasm, selftest: i.selftest}; })()""")

    def set(self, name: str, value) -> None:
        self.page.evaluate("""([name, v]) => { const el = document.querySelector(`.stylizer input[name=${name}]`);
            el.max = Math.max(Number(el.max), Number(v)); el.value = v; el.dispatchEvent(new Event('input')); }""",
                           [name, str(value)])

    def choose_images(self) -> None:
        """Photo and style chosen again: new images for the worker, so nothing of a previous run is kept."""
        self.page.set_input_files("input[name=content]", str(self.content))
        self.page.set_input_files("input[name=style]", str(self.style))
        self.page.wait_for_function(
            "/Ready to stylize/.test(document.querySelector('[data-role=status]').textContent)")

    def run(self, resolution: int, fresh: bool = True, until_preview: bool = False) -> dict:
        if fresh:
            self.choose_images()
        self.set("resolution", resolution)
        t = time.perf_counter()
        self.page.click("[data-action=stylize]")
        out = {}
        if until_preview:
            self.page.wait_for_function(
                "document.querySelector('canvas[data-role=result]').dataset.kind === 'preview'",
                timeout=TIMEOUT_MS, polling=20)
            out["preview_s"] = time.perf_counter() - t
        state = self.wait_state(["done", "error"])
        out["wall_s"] = time.perf_counter() - t
        assert state == "done", self.page.text_content("[data-role=status]")
        r = self.page.evaluate("document.querySelector('.stylizer').stylizer.lastResult")
        out.update(size=[r["width"], r["height"]], executions=r["executions"], worker_ms=r["ms"])
        if max(out["size"]) != resolution:   # the widget fell back to a smaller size: never report it as this one
            out["fallback"] = self.page.text_content("[data-role=status]")
            print(f"  fell back: {out['fallback']}", file=sys.stderr, flush=True)
        return out


def bench_backend(browser, url, label, sizes, images, runs, time_first) -> dict:
    w = Widget(browser, url, *images)
    try:
        cold = w.load()
        note(f"{label}: cold load", cold)
        cold_info = w.info()
        warm = w.load(reload=True)
        note(f"{label}: warm load", warm)
        warm_info = w.info()
        first = None
        if time_first:
            first = w.run(512)
            note(f"{label}: first stylization at 512 px", first["wall_s"])
        steady = {}
        for res in sizes:
            timed = []
            for i in range(runs):
                r = w.run(res)
                timed.append(r)
                note(f"{label}: {res} px run {i + 1}/{runs}", r["wall_s"])
            steady[res] = {**spread([r["wall_s"] for r in timed]),
                           "fallback": next((r["fallback"] for r in timed if "fallback" in r), None)}
        return {"label": label, "backend": cold_info["backend"], "wasm": warm_info["wasm"], "coi": cold_info["coi"],
                "cold_s": cold, "warm_s": warm, "cold": cold_info, "warm": warm_info,
                "first_512_s": first and first["wall_s"], "steady": steady}
    finally:
        w.close()


def bench_rerun(browser, url, images, runs) -> dict:
    """A strength-only change at 512 px: kept first-iteration features, one blend, one decode."""
    w = Widget(browser, url, *images)
    try:
        w.load()
        full = w.run(512)
        note("rerun: whole run at 512 px (alpha 1)", full["wall_s"])
        w.set("alpha", 0.5)
        first_change = w.run(512, fresh=False)   # needs the photo as a style once: T(c, c)
        note("rerun: first strength change (encodes the photo as a style)", first_change["wall_s"])
        timed = []
        for i in range(runs):
            w.set("alpha", (0.2, 0.8, 0.35, 0.65, 0.5)[i % 5])
            r = w.run(512, fresh=False)
            assert r["executions"] == {"encoder": 0, "transform": 0, "decoder": 1}, r["executions"]
            timed.append(r["wall_s"])
            note(f"rerun: strength-only re-run {i + 1}/{runs}", r["wall_s"])
        return {"whole_s": full["wall_s"], "first_change_s": first_change["wall_s"],
                "first_change_executions": first_change["executions"],
                "strength_only": spread(timed), "executions": {"encoder": 0, "transform": 0, "decoder": 1}}
    finally:
        w.close()


def bench_preview(browser, url, images, runs) -> dict:
    w = Widget(browser, url, *images)
    try:
        w.load()
        firsts, fulls = [], []
        for i in range(runs):
            r = w.run(512, until_preview=True)
            firsts.append(r["preview_s"])
            fulls.append(r["wall_s"])
            note(f"preview: first picture (256 px) {i + 1}/{runs}", r["preview_s"])
            note(f"preview: full 512 px result {i + 1}/{runs}", r["wall_s"])
        return {"first_picture": spread(firsts), "full": spread(fulls)}
    finally:
        w.close()


def bench_selftest(browser, url, runs) -> dict:
    """The self-test's own figures on an unforced page: the best steady time per backend, over cold loads."""
    per: dict[str, list[float]] = {}
    chosen = []
    for i in range(runs):
        w = Widget(browser, url, None, None)
        try:
            w.load()
            info = w.info()
            chosen.append(info["backend"])
            for r in info["selftest"]:
                if r.get("ok"):
                    per.setdefault(r["backend"], []).append(r["ms"] / 1000)
            print(f"  selftest {i + 1}/{runs}: " + ", ".join(
                f"{r['backend']} {r['ms']:.0f} ms" if r.get("ok") else f"{r['backend']}: {r.get('error')}"
                for r in info["selftest"]) + f" -> {info['backend']}", file=sys.stderr, flush=True)
        finally:
            w.close()
    return {"chosen": chosen, "ms": {b: {k: (v * 1000 if k != "runs" else [x * 1000 for x in v])
                                         for k, v in spread(xs).items()} for b, xs in per.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run, of {','.join(SECTIONS)}")
    ap.add_argument("--backends", default="wasm,webgl")
    ap.add_argument("--threads", default="1,2", help="WASM thread counts to measure (data-threads)")
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--webgl-sizes", default="256,512",
                    help="WebGL runs on SwiftShader without a GPU: minutes per 512 px run")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure (the median is reported; at least 3 "
                                                        "for figures that are quoted)")
    ap.add_argument("--model", type=Path, default=ROOT / "static" / "model")
    ap.add_argument("--skip-first", action="store_true", help="skip the first-stylization figure (512 px)")
    ap.add_argument("--json", type=Path, help="also write every figure here")
    a = ap.parse_args()
    only = set(a.only.split(","))
    unknown = only - set(SECTIONS)
    if unknown:
        ap.error(f"--only: unknown sections {sorted(unknown)}")
    from playwright.sync_api import sync_playwright

    manifest = json.loads((a.model / "manifest.json").read_text())
    out: dict = {"model": {k: manifest.get(k) for k in ("name", "version", "total_bytes", "quantization")}}
    threads = [int(t) for t in a.threads.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        images = (tmp / "content.png", tmp / "style.png")
        Image.fromarray(pattern(768, 1024, seed=1)).save(images[0])
        Image.fromarray(pattern(512, 512, seed=2)).save(images[1])
        site = tmp / "site"
        browser_sections = only - {"node"}
        with serve_directory(site, "/repo/") as (base, _requests), sync_playwright() as pw:
            if browser_sections:
                build_site(site, base)
                if a.model.resolve() != (ROOT / "static" / "model").resolve():
                    shutil.rmtree(site / "model")
                    shutil.copytree(a.model, site / "model")
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = lambda name, attrs: base + write_test_page(site, name, "model/manifest.json", attrs=attrs)  # noqa: E731
                if "backends" in only:
                    out["backends"] = []
                    for backend in a.backends.split(","):
                        sizes = [int(s) for s in (a.webgl_sizes if backend == "webgl" else a.sizes).split(",")]
                        for n in threads if backend == "wasm" else [None]:
                            label = f"{backend}, {n} thread{'s' if n != 1 else ''}" if n else backend
                            attrs = f'data-force-backend="{backend}" data-preview="0"' + (f' data-threads="{n}"' if n else "")
                            print(f"benchmarking {label} at {sizes} ...", file=sys.stderr, flush=True)
                            out["backends"].append(bench_backend(browser, page(f"bench-{backend}-{n}.html", attrs),
                                                                 label, sizes, images, a.runs, not a.skip_first))
                if "rerun" in only:
                    out["rerun"] = bench_rerun(browser, page("bench-rerun.html", 'data-force-backend="wasm" data-preview="0"'),
                                               images, a.runs)
                if "preview" in only:
                    out["preview"] = bench_preview(browser, page("bench-preview.html", 'data-force-backend="wasm"'),
                                                   images, a.runs)
                if "selftest" in only:
                    out["selftest"] = bench_selftest(browser, page("bench-selftest.html", ""), a.runs)
                browser.close()
    if "node" in only:
        print("benchmarking TF.js on Node ...", file=sys.stderr, flush=True)
        r = subprocess.run(["node", str(ROOT / "bench" / "tfjs_node.mjs"), str(a.model), a.sizes, str(a.runs)],
                           cwd=ROOT, capture_output=True, text=True)
        out["node"] = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {"error": r.stderr[-500:]}
    report(out, a)
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))


def report(out: dict, a) -> None:
    m = out["model"]
    print(f"\nModel: {m['name']} {m['version']}, {m['total_bytes'] / 1e6:.1f} MB ({m.get('quantization') or 'float32'}); "
          f"figures: median of {a.runs} run(s) (min-max); 1 iteration, alpha 1, a 4:3 photo, a 512 px style\n")
    if "backends" in out:
        sizes = sorted({int(s) for s in a.sizes.split(",")} | {int(s) for s in a.webgl_sizes.split(",")})
        print("| run | WASM binary, threads | model bytes | cold load | warm load (cache) | first stylization 512 px | "
              + " | ".join(f"{s} px" for s in sizes) + " |")
        print("|" + "---|" * (6 + len(sizes)))
        for r in out["backends"]:
            wasm = r["wasm"] if r["backend"] == "wasm" else None
            cells = [f"Chromium, {r['label']}", f"{wasm['binary']}, {wasm['threads']}" if wasm else "-",
                     f"{r['cold']['stats']['downloadedBytes'] / 1e6:.1f} MB; {r['warm']['stats']['downloadedBytes']} B on reload",
                     f"{r['cold_s']:.1f} s", f"{r['warm_s']:.1f} s",
                     "not run" if r["first_512_s"] is None else f"{r['first_512_s']:.2f} s"]
            for s in sizes:
                st = r["steady"].get(s)
                cells.append(fmt(st) + (f" (fell back: {st['fallback']})" if st and st["fallback"] else ""))
            print("| " + " | ".join(cells) + " |")
        node = out.get("node")
        if node and "sizes" in node:
            cells = [f"TF.js on Node, {node['backend']}", f"{node['threads']} thread", "(files on disk)", "", "",
                     f"{node['sizes'].get('512', {}).get('first_ms', 0) / 1000:.2f} s" if "512" in node["sizes"] else ""]
            for s in sizes:
                n = node["sizes"].get(str(s))
                cells.append(fmt({k: (v / 1000 if k != "runs" else [x / 1000 for x in v]) for k, v in {
                    "median": n["steady_ms"], "min": min(n["runs_ms"]), "max": max(n["runs_ms"]),
                    "runs": n["runs_ms"]}.items()}) if n else "not run")
            print("| " + " | ".join(cells) + " |")
        print("\nWorker timings on cold load (ms):", json.dumps({r["label"]: r["cold"]["timings"] for r in out["backends"]}))
        print("Cross-origin isolated:", {r["label"]: r["coi"] for r in out["backends"]})
    elif out.get("node"):
        print("Node:", json.dumps(out["node"]))
    if "rerun" in out:
        r = out["rerun"]
        print(f"\nStrength-only re-run at 512 px (WASM): {fmt(r['strength_only'])} (graph runs {r['executions']}); "
              f"whole run {r['whole_s']:.2f} s; first strength change {r['first_change_s']:.2f} s "
              f"(graph runs {r['first_change_executions']})")
    if "preview" in out:
        p = out["preview"]
        print(f"Preview at 512 px (WASM): first picture (256 px) {fmt(p['first_picture'])}; full result {fmt(p['full'])}")
    if "selftest" in out:
        s = out["selftest"]
        print("Self-test (best steady run per backend, over cold loads): " + ", ".join(
            f"{b} {v['median']:.0f} ms ({v['min']:.0f}-{v['max']:.0f})" for b, v in s["ms"].items())
            + f"; chosen: {s['chosen']}")


if __name__ == "__main__":
    main()
