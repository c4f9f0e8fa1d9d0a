"""Stylizer speed in headless Chromium, per TF.js backend, and the same graphs in TF.js on Node.

python bench/browser.py [--backends wasm,webgl] [--sizes 256,512,1024] [--webgl-sizes 256,512] [--model DIR]

Builds the site (site_builder, as the README does), serves it on localhost, and for each backend (forced with
the widget's data-force-backend attribute) measures: model bytes; cold load (fresh browser profile: download,
verify, self-test, compile, warm-up, until data-state=ready); warm load (reload: model from the Cache API);
the first stylization after ready (512 px, 1 iteration); steady state at each size (1 iteration, the style
re-chosen before each run so every run encodes it, like the first). Then runs bench/tfjs_node.mjs on the same
model. Prints a Markdown table. Figures depend on the machine and its load: run it on a quiet machine.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tests.browser.sitekit import (build_site, builder_available, hand_made_site, pattern,  # noqa: E402
                                   write_test_page)
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, serve_directory  # noqa: E402

TIMEOUT_MS = 1_800_000


@contextmanager
def serve_isolated(directory: Path, prefix: str = "/repo/"):
    """Like tests.conftest.serve_directory, plus COOP/COEP headers: the page is cross-origin isolated, so
    TF.js's WASM backend may use threads (SharedArrayBuffer). GitHub Pages cannot send these headers."""
    import functools
    import http.server
    import threading

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path):
            clean = path.split("?", 1)[0]
            return super().translate_path("/" + clean[len(prefix):]) if clean.startswith(prefix) else "/nonexistent"

        def end_headers(self):
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}", []
    finally:
        server.shutdown()
        server.server_close()


def wait_state(page, states, timeout=TIMEOUT_MS):
    page.wait_for_function("s => s.includes(document.querySelector('.stylizer').dataset.state)",
                           arg=list(states), timeout=timeout, polling=50)
    return page.get_attribute(".stylizer", "data-state")


def set_control(page, name, value):
    page.evaluate("""([name, v]) => { const el = document.querySelector(`.stylizer input[name=${name}]`);
        el.max = Math.max(Number(el.max), Number(v)); el.value = v; el.dispatchEvent(new Event('input')); }""", [name, str(value)])


def run_once(page, style: Path, resolution: int) -> dict:
    page.set_input_files("input[name=style]", str(style))  # a new style key: this run encodes the style too
    page.wait_for_function("/Ready to stylize/.test(document.querySelector('[data-role=status]').textContent)")
    set_control(page, "resolution", resolution)
    t = time.perf_counter()
    page.click("[data-action=stylize]")
    state = wait_state(page, ["done", "error"])
    wall = time.perf_counter() - t
    assert state == "done", page.text_content("[data-role=status]")
    size = page.evaluate("(() => { const c = document.querySelector('canvas[data-role=result]'); return [c.width, c.height]; })()")
    run = {"wall_s": wall, "size": size}
    if max(size) != resolution:   # the widget fell back to a smaller size: say so, never report it as this size
        run["fallback"] = page.text_content("[data-role=status]")
        print(f"  fell back: {run['fallback']}", file=sys.stderr, flush=True)
    return run


def note(backend: str, what: str, seconds: float) -> None:
    """Each figure as soon as it is measured: a long WebGL run cut short still leaves its figures."""
    print(f"  {backend}: {what} {seconds:.2f} s", file=sys.stderr, flush=True)


def bench_backend(browser, url, backend, sizes, content, style, time_first: bool = True, runs: int = 2) -> dict:
    ctx = browser.new_context()
    page = ctx.new_page()
    try:
        t = time.perf_counter()
        page.goto(url)
        if wait_state(page, ["ready", "error"]) != "ready":
            return {"backend": backend, "error": page.text_content("[data-role=status]")}
        cold = time.perf_counter() - t
        note(backend, "cold load", cold)
        info_js = "document.querySelector('.stylizer').stylizer.engine.info"
        cold_info = page.evaluate(f"(() => {{ const i = {info_js}; return {{timings: i.timings, stats: i.stats, backend: i.backend, coi: i.crossOriginIsolated}}; }})()")
        t = time.perf_counter()
        page.reload()
        wait_state(page, ["ready", "error"])
        warm = time.perf_counter() - t
        note(backend, "warm load", warm)
        warm_info = page.evaluate(f"(() => {{ const i = {info_js}; return {{timings: i.timings, stats: i.stats}}; }})()")
        page.set_input_files("input[name=content]", str(content))
        first = run_once(page, style, 512) if time_first else {"wall_s": float("nan")}
        note(backend, "first stylization at 512 px", first["wall_s"])
        steady = {}
        for res in sizes:
            if (res != 512 or not time_first) and runs > 1:
                note(backend, f"first run at {res} px (not counted)", run_once(page, style, res)["wall_s"])
            steady[res] = run_once(page, style, res)
            note(backend, f"steady {res} px", steady[res]["wall_s"])
        return {"backend": cold_info["backend"], "cold_s": cold, "warm_s": warm, "cold": cold_info, "warm": warm_info,
                "first_512_s": first["wall_s"], "steady": steady}
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backends", default="wasm,webgl")
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--webgl-sizes", default="256,512", help="WebGL runs on SwiftShader without a GPU: minutes per 1024 px run")
    ap.add_argument("--model", type=Path, default=ROOT / "static" / "model")
    ap.add_argument("--skip-node", action="store_true")
    ap.add_argument("--skip-first", action="store_true", help="skip the first-stylization figure (512 px)")
    ap.add_argument("--runs-per-size", type=int, default=2, choices=(1, 2),
                    help="2: a run at each new size, then the timed one; 1: time the first run at each size "
                         "(for WebGL on SwiftShader, where one 1024 px run takes over half an hour)")
    ap.add_argument("--isolated", action="store_true",
                    help="serve with COOP/COEP so WASM can use threads (to measure whether threads are worth it)")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    manifest = json.loads((a.model / "manifest.json").read_text())
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        content, style = tmp / "content.png", tmp / "style.png"
        Image.fromarray(pattern(768, 1024, seed=1)).save(content)
        Image.fromarray(pattern(512, 512, seed=2)).save(style)
        out = tmp / "site"
        serve = serve_isolated if a.isolated else serve_directory
        with serve(out, "/repo/") as (base, _requests), sync_playwright() as pw:
            if builder_available() and a.model == ROOT / "static" / "model":
                build_site(out, base)
            else:
                hand_made_site(out, a.model)
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for backend in a.backends.split(","):
                page = write_test_page(out, f"bench-{backend}.html", "model/manifest.json",
                                       attrs=f'data-force-backend="{backend}"')
                sizes = [int(s) for s in (a.webgl_sizes if backend == "webgl" else a.sizes).split(",")]
                print(f"benchmarking {backend} at {sizes} ...", file=sys.stderr, flush=True)
                results.append(bench_backend(browser, base + page, backend, sizes, content, style,
                                             time_first=not a.skip_first, runs=a.runs_per_size))
                print(json.dumps(results[-1]), file=sys.stderr, flush=True)  # partial results as they come
            browser.close()
    node = None
    if not a.skip_node:
        print("benchmarking TF.js on Node ...", file=sys.stderr, flush=True)
        r = subprocess.run(["node", str(ROOT / "bench" / "tfjs_node.mjs"), str(a.model), a.sizes], cwd=ROOT,
                           capture_output=True, text=True)
        node = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {"error": r.stderr[-500:]}

    print(f"\ncross-origin isolated (WASM threads possible): {[r.get('cold', {}).get('coi') for r in results]}")
    print(f"\nModel: {manifest['name']} {manifest['version']}, {manifest['total_bytes'] / 1e6:.1f} MB "
          f"({manifest.get('quantization') or 'float32'}); {json.dumps(node) if node else ''}\n")
    sizes_all = sorted({int(s) for s in a.sizes.split(",")} | {int(s) for s in a.webgl_sizes.split(",")})
    head = "| backend | model bytes | cold load | warm load (cache) | first stylization 512 px | " + \
        " | ".join(f"steady {s} px" for s in sizes_all) + " |"
    print(head)
    print("|" + "---|" * (5 + len(sizes_all)))
    for r in results:
        if "error" in r:
            print(f"| {r['backend']} | error: {r['error']} |")
            continue
        dl = r["cold"]["stats"]["downloadedBytes"]
        cells = [r["backend"], f"{dl / 1e6:.1f} MB downloaded, {r['warm']['stats']['downloadedBytes']} B on reload",
                 f"{r['cold_s']:.1f} s", f"{r['warm_s']:.1f} s",
                 "not run" if r["first_512_s"] != r["first_512_s"] else f"{r['first_512_s']:.2f} s"]
        cells += [("not run" if s not in r["steady"] else f"{r['steady'][s]['wall_s']:.2f} s"
                   + (f" (ran at {max(r['steady'][s]['size'])} px: {r['steady'][s]['fallback']})"
                      if "fallback" in r["steady"][s] else "")) for s in sizes_all]
        print("| " + " | ".join(cells) + " |")
    if node and "sizes" in node:
        cells = [node["backend"], "(files on disk)", "", "", f"{node['sizes'].get('512', {}).get('first_ms', 0) / 1000:.2f} s"]
        cells += [f"{node['sizes'][str(s)]['steady_ms'] / 1000:.2f} s" if str(s) in node["sizes"] else "not run"
                  for s in sizes_all]
        print("| " + " | ".join(cells) + " |")
    print("\nWorker timings (ms):", json.dumps([{r.get("backend"): r.get("cold", {}).get("timings")} for r in results]))


if __name__ == "__main__":
    main()
