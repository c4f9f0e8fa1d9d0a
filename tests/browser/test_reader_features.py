"""What the reader gets beyond one stylization, in headless Chromium on the built site with the shipped model:
threads under cross-origin isolation (the site's service worker, static/sw.js), offline reloads, the model
cache's pruning and repair, kept features (a strength or mix change costs one decode), the quick preview, the
second style, and the webcam snapshot (Chromium's fake capture device), plus live-reload with the worker on."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import urllib.request
from urllib.parse import urlparse

import numpy as np
import pytest

from tests.browser.sitekit import PY, ROOT, pattern, png_bytes, read_manifest, write_test_page
from tests.browser.test_fallback import engine_worker
from tests.browser.test_stylizer import (MODEL_FILE, RUN_MS, expected_size, image_size, open_page, pick_samples,
                                         result, set_control, stylize, wait_state, widget)
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port

CACHE = "sanet-stylizer-model"


def status(page, nth=0):
    return widget(page, nth).locator("[data-role=status]").text_content()


def last_result(page):
    return page.evaluate("document.querySelector('.stylizer').stylizer.lastResult")


def wasm_binaries(worker):
    return worker.evaluate("performance.getEntriesByType('resource').map(e => e.name.split('/').pop())"
                           ".filter(n => n.endsWith('.wasm'))")


# ------------------------------------------------------------------------------------------------ threads
def test_isolated_page_runs_wasm_on_every_core(browser, site):
    ctx, page = open_page(browser, site.article)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        # the first visit installed the site's service worker and reloaded once, now under it
        assert page.evaluate("crossOriginIsolated") is True
        assert page.evaluate("navigator.serviceWorker.controller.scriptURL") == site.base + "sw.js"
        assert page.evaluate("performance.getEntriesByType('navigation')[0].type") == "reload"
        cores = page.evaluate("navigator.hardwareConcurrency")
        assert cores >= 2, "this check needs a machine with two cores or more"
        worker = engine_worker(page)
        assert worker.evaluate("crossOriginIsolated") is True
        threads = worker.evaluate("tf.wasm.getThreadsCount()")
        assert threads == min(cores, 8), (threads, cores)     # TF.js alone gives hardwareConcurrency / 2
        assert wasm_binaries(worker) == ["tfjs-backend-wasm-threaded-simd.wasm"]
        root = widget(page)
        assert root.get_attribute("data-threads") == str(threads)
        assert f"{threads} threads" in root.locator("[data-role=backend]").text_content()
        assert root.locator("[data-role=backend]").get_attribute("data-wasm") == "tfjs-backend-wasm-threaded-simd.wasm"
        pick_samples(page)
        set_control(page, "resolution", 256)
        stylize(page)
        out = result(page)
        assert out.shape[:2] == expected_size(*image_size(site, "coffee.jpg"), 256) and out.std() > 3
        assert page.errors == []
    finally:
        ctx.close()


def test_data_threads_sets_the_pool_and_a_page_can_opt_out_of_the_worker(browser, site):
    one = site.base + write_test_page(site.root, "one-thread.html", "model/manifest.json", attrs='data-threads="1"')
    ctx, page = open_page(browser, one)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        worker = engine_worker(page)
        assert worker.evaluate("tf.wasm.getThreadsCount()") == 1
        assert wasm_binaries(worker) == ["tfjs-backend-wasm-threaded-simd.wasm"]   # isolated, one thread asked
        assert "1 thread," in widget(page).locator("[data-role=backend]").text_content()
    finally:
        ctx.close()
    off = site.base + write_test_page(site.root, "no-sw.html", "model/manifest.json", attrs='data-isolate="false"')
    ctx, page = open_page(browser, off)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        assert page.evaluate("navigator.serviceWorker.controller") is None
        assert page.evaluate("crossOriginIsolated") is False
        worker = engine_worker(page)
        assert worker.evaluate("tf.wasm.getThreadsCount()") == 1
        assert wasm_binaries(worker) == ["tfjs-backend-wasm-simd.wasm"]
        assert "not cross-origin isolated" in widget(page).locator("[data-role=backend]").text_content()
    finally:
        ctx.close()


# ------------------------------------------------------------------------------------------------ offline
def test_offline_reload_still_stylizes(browser, site, tmp_path):
    ctx, page = open_page(browser, site.article)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        ctx.set_offline(True)
        page.reload()
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        assert "from cache" in status(page)
        assert page.evaluate("crossOriginIsolated") is True
        (tmp_path / "c.png").write_bytes(png_bytes(pattern(120, 160, seed=7)))
        (tmp_path / "s.png").write_bytes(png_bytes(pattern(128, 128, seed=8)))
        page.set_input_files("input[name=content]", str(tmp_path / "c.png"))
        page.set_input_files("input[name=style]", str(tmp_path / "s.png"))
        page.wait_for_function("/Ready to stylize/.test(document.querySelector('[data-role=status]').textContent)")
        set_control(page, "resolution", 256)
        stylize(page)
        assert result(page).shape[:2] == (192, 256)
    finally:
        ctx.close()


# ------------------------------------------------------------------------------------------------ model cache
def test_cache_drops_old_versions_and_refetches_a_corrupt_file(browser, site):
    manifest = read_manifest(site.root / "model")
    model_base = site.base + "model/"
    shard = next(p for p in sorted(manifest["files"]) if p.endswith(".bin"))
    ctx, page = open_page(browser, site.article)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        page.evaluate("""async ([name, base, shard]) => {
            const cache = await caches.open(name);
            // an older version of this model, and a file of some other model folder
            await cache.put(base + '0123456789ab/encoder/model.json', new Response('{}'));
            await cache.put(base.replace('/model/', '/other-model/') + 'keep.bin', new Response('x'));
            // a cached file whose bytes went bad (same size, one byte flipped)
            const hit = await cache.match(base + shard);
            const bytes = new Uint8Array(await hit.arrayBuffer());
            bytes[bytes.length >> 1] ^= 0xff;
            await cache.put(base + shard, new Response(bytes));
        }""", [CACHE, model_base, shard])
        del site.requests[:]                        # what reaches the server (the service worker's fetches)
        page.reload()
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        fetched = [u for u in site.requests if MODEL_FILE.search(u)]
        assert fetched == [urlparse(model_base + shard).path], fetched       # only the corrupt one, once
        keys = page.evaluate("async (name) => (await (await caches.open(name)).keys()).map(r => r.url)", CACHE)
        assert model_base + "0123456789ab/encoder/model.json" not in keys
        assert model_base.replace("/model/", "/other-model/") + "keep.bin" in keys
        assert sorted(k for k in keys if k.startswith(model_base)) == sorted(model_base + p for p in manifest["files"])
        digest = page.evaluate("""async ([name, url]) => {
            const b = await (await (await caches.open(name)).match(url)).arrayBuffer();
            return [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))].map(x => x.toString(16).padStart(2, '0')).join('');
        }""", [CACHE, model_base + shard])
        assert digest == manifest["files"][shard]["sha256"]
        assert digest == hashlib.sha256((site.root / "model" / shard).read_bytes()).hexdigest()
    finally:
        ctx.close()


# ------------------------------------------------------------------------------------------------ kept features
def test_strength_and_mix_changes_cost_one_decode(browser, site):
    ctx, page = open_page(browser, site.article)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        pick_samples(page, "coffee.jpg", "starry-night.jpg")
        set_control(page, "resolution", 256)
        stylize(page)
        assert last_result(page)["executions"] == {"encoder": 2, "transform": 1, "decoder": 1}
        set_control(page, "alpha", 0.5)
        stylize(page)                              # the photo as a style: one more encoding and transform
        assert last_result(page)["executions"] == {"encoder": 1, "transform": 1, "decoder": 1}
        set_control(page, "alpha", 0.3)
        stylize(page)
        assert last_result(page)["executions"] == {"encoder": 0, "transform": 0, "decoder": 1}
        kept = result(page)
        # the same picture as a run from scratch (the photo chosen again: a new image, nothing kept)
        widget(page).locator('[data-sample=content][data-file="coffee.jpg"]').click()
        page.wait_for_function("/Ready to stylize/.test(document.querySelector('[data-role=status]').textContent)")
        stylize(page)
        assert last_result(page)["executions"]["encoder"] == 2
        assert np.array_equal(result(page), kept)
        # a second style: its encoding and transform once, then mix changes are one decode each
        widget(page).locator('[data-sample=style2][data-file="night-cafe.jpg"]').click()
        page.wait_for_function("!document.querySelector('input[name=mix]').disabled")
        set_control(page, "mix", 0.5)
        stylize(page)
        assert last_result(page)["executions"] == {"encoder": 1, "transform": 1, "decoder": 1}
        mixed = result(page)
        assert "styles mixed 50 / 50" in page.text_content("[data-role=caption]")
        set_control(page, "mix", 0.8)
        stylize(page)
        assert last_result(page)["executions"] == {"encoder": 0, "transform": 0, "decoder": 1}
        assert np.abs(result(page).astype(int) - mixed).mean() > 0.5, "the mix did not change the picture"
        widget(page).locator("[data-action=clear-style2]").click()
        assert page.evaluate("document.querySelector('input[name=mix]').disabled") is True
        stylize(page)
        assert np.array_equal(result(page), kept), "without the second style: the one-style picture again"
        assert "styles mixed" not in page.text_content("[data-role=caption]")
        assert page.errors == []
    finally:
        ctx.close()


# ------------------------------------------------------------------------------------------------ preview
def kind(page):
    return page.evaluate("document.querySelector('canvas[data-role=result]').dataset.kind || ''")


def test_preview_first_then_full_resolution_and_cancel_keeps_the_last_result(browser, site):
    ctx, page = open_page(browser, site.article)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        pick_samples(page, "astronaut.jpg", "cafe-terrace.jpg")
        h0, w0 = image_size(site, "astronaut.jpg")
        set_control(page, "resolution", 512)
        widget(page).locator("[data-action=stylize]").click()
        page.wait_for_function("document.querySelector('canvas[data-role=result]').dataset.kind === 'preview'",
                               timeout=RUN_MS)
        assert widget(page).get_attribute("data-state") == "running"
        assert result(page).shape[:2] == expected_size(h0, w0, 256)
        assert "Preview at" in page.text_content("[data-role=caption]")
        assert page.is_disabled("[data-action=download]")
        progress = page.evaluate("document.querySelector('[data-role=progress]').value")
        assert 0 < progress < 0.5, progress            # the bar spans both runs; the preview is the small one
        assert wait_state(page, ["done", "error"], timeout=RUN_MS) == "done", status(page)
        assert kind(page) == "full" and result(page).shape[:2] == expected_size(h0, w0, 512)
        full = result(page)
        assert not page.is_disabled("[data-action=download]")
        # another photo, cancelled after its preview: the previous full result comes back
        widget(page).locator('[data-sample=content][data-file="chelsea.jpg"]').click()
        page.wait_for_function("/Ready to stylize/.test(document.querySelector('[data-role=status]').textContent)")
        widget(page).locator("[data-action=stylize]").click()
        page.wait_for_function("document.querySelector('canvas[data-role=result]').dataset.kind === 'preview'",
                               timeout=RUN_MS)
        widget(page).locator("[data-action=cancel]").click()
        assert wait_state(page, ["done", "ready", "error"], timeout=RUN_MS) == "done"
        assert status(page) == "Cancelled."
        assert kind(page) == "full" and np.array_equal(result(page), full)
        assert not page.is_disabled("[data-action=download]")
        # a strength change with the first iteration kept is cheap: no preview for it
        set_control(page, "alpha", 0.6)
        stylize(page)
        set_control(page, "alpha", 0.4)
        page.evaluate("""() => { window.kinds = []; new MutationObserver(() => window.kinds.push(
            document.querySelector('canvas[data-role=result]').dataset.kind)).observe(
            document.querySelector('canvas[data-role=result]'), {attributes: true}); }""")
        stylize(page)
        assert last_result(page)["executions"] == {"encoder": 0, "transform": 0, "decoder": 1}
        assert "preview" not in page.evaluate("window.kinds")
        assert page.errors == []
    finally:
        ctx.close()


# ------------------------------------------------------------------------------------------------ webcam
@pytest.fixture(scope="module")
def camera_browser(browser):
    """Chromium with its fake capture device (a test pattern), as a reader's webcam."""
    b = browser.browser_type.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_ARGS + ["--use-fake-device-for-media-stream"])
    yield b
    b.close()


def test_webcam_snapshot_is_the_photo(camera_browser, site):
    ctx = camera_browser.new_context(permissions=["camera"])
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    requests = []
    ctx.on("request", lambda r: requests.append((r.method, r.post_data_buffer)))
    try:
        page.goto(site.article)
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        root = widget(page)
        root.locator("[data-action=camera]").click()
        page.wait_for_function("(() => { const v = document.querySelector('.stylizer video'); return v && v.videoWidth > 0 && !v.paused; })()")
        size = page.evaluate("(() => { const v = document.querySelector('.stylizer video'); return [v.videoHeight, v.videoWidth]; })()")
        root.locator("[data-action=snap]").click()
        page.wait_for_function("document.querySelector('[data-role=drop-content]').classList.contains('has-image')")
        assert f"{size[1]}×{size[0]}" in status(page)
        # the camera is off again: one frame was taken
        assert page.evaluate("document.querySelector('.stylizer video').srcObject") is None
        assert root.locator("[data-role=camera]").is_hidden()
        root.locator('[data-sample=style][data-file="harvest.jpg"]').click()
        page.wait_for_function("/Ready to stylize/.test(document.querySelector('[data-role=status]').textContent)")
        set_control(page, "resolution", 256)
        stylize(page)
        out = result(page)
        assert out.shape[:2] == expected_size(*size, 256) and out.std() > 3
        assert all(method == "GET" and not body for method, body in requests)   # the frame never left the page
        assert page.errors == []
    finally:
        ctx.close()


def test_webcam_refused_says_so_and_the_widget_stays_usable(camera_browser, site):
    ctx = camera_browser.new_context()            # no camera permission: Chromium refuses getUserMedia
    page = ctx.new_page()
    try:
        page.goto(site.article)
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        widget(page).locator("[data-action=camera]").click()
        error = widget(page).locator("[data-role=error][data-slot=content]")
        error.wait_for(state="visible")
        assert "Camera access was refused" in error.text_content()
        assert widget(page).locator("[data-role=camera]").is_hidden()
        assert widget(page).get_attribute("data-state") == "ready"
        pick_samples(page)
        set_control(page, "resolution", 256)
        stylize(page)
    finally:
        ctx.close()


# ------------------------------------------------------------------------------------------------ live reload
def test_live_reload_preview_with_the_service_worker(browser, tmp_path):
    """`python -m site_builder serve` on a copy of the site: the page is isolated through the worker, and an
    edit of the article still reloads it with the new text (the worker passes fresh responses through)."""
    src = tmp_path / "site"
    for name in ("content", "templates", "static"):
        shutil.copytree(ROOT / name, src / name)
    shutil.copy(ROOT / "site.yml", src / "site.yml")
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([PY, "-m", "site_builder", "serve", "--port", str(port), "--source", str(src)],
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        base = f"http://127.0.0.1:{port}/sanet-in-the-browser/"
        article_md = next((src / "content" / "posts").glob("*.md"))
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base, timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-2000:]
                time.sleep(0.3)
        url = base + "posts/" + article_md.stem + "/"
        ctx, page = open_page(browser, url)
        try:
            assert wait_state(page, ["ready", "error"]) == "ready", status(page)
            assert page.evaluate("crossOriginIsolated") is True
            page.wait_for_function("() => !!window.LiveReload")
            page.wait_for_timeout(500)                 # the reload channel opens
            page.evaluate("window.__beforeEdit = true")
            article_md.write_text(article_md.read_text() + "\n\nA sentence added while previewing.\n")
            page.wait_for_function("() => document.body.innerText.includes('A sentence added while previewing')",
                                   timeout=60_000)
            assert page.evaluate("window.__beforeEdit === undefined"), "the page was not reloaded"
            assert page.evaluate("crossOriginIsolated") is True
            assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        finally:
            ctx.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
