"""Failures the widget must survive, triggered for real in headless Chromium, and the page-wide paste.

The widget runs on WebGL here (forced with data-force-backend; this machine's WebGL is SwiftShader), on the tiny
stand-in model so each run takes seconds. The failures are real: the GPU context is lost through the browser's
WEBGL_lose_context extension, and TF.js's own texture-size check fails once its limit is set to that of a small
GPU. Only the triggers run inside the engine's worker; the recovery is the widget's.
"""
from __future__ import annotations

import base64

import numpy as np
import pytest

from tests.browser.sitekit import pattern, png_bytes, standin_model, write_test_page
from tests.browser.test_stylizer import (expected_size, image_size, open_page, pick_samples, result, set_control,
                                         stylize, wait_state, widget)


@pytest.fixture(scope="module")
def webgl_page(site):
    standin_model(site.root / "standin-model")
    return site.base + write_test_page(site.root, "webgl.html", "standin-model/manifest.json",
                                       attrs='data-force-backend="webgl"')


def engine_worker(page):
    """The stylizer's Web Worker (TF.js lives there as the global `tf`)."""
    page.wait_for_function("document.querySelector('.stylizer').dataset.state !== 'loading'", timeout=120_000)
    # by URL: the WASM backend's thread pool runs in blob: workers that sit blocked in Atomics.wait, so an
    # evaluate() there would never return
    (worker,) = [w for w in page.workers if w.url.split("?")[0].endswith("/worker.js")]
    assert worker.evaluate("typeof tf") == "object"
    return worker


def status(page):
    return widget(page).locator("[data-role=status]").text_content()


def test_lost_webgl_context_switches_to_the_next_backend(browser, site, webgl_page):
    ctx, page = open_page(browser, webgl_page)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        assert widget(page).get_attribute("data-backend") == "webgl"
        pick_samples(page)
        set_control(page, "resolution", 256)
        stylize(page)
        on_webgl = result(page)
        worker = engine_worker(page)
        assert worker.evaluate("tf.getBackend()") == "webgl"
        # the browser takes the GPU context away, as when a driver resets or the tab's GPU process dies
        worker.evaluate("tf.backend().gpgpu.gl.getExtension('WEBGL_lose_context').loseContext()")
        assert worker.evaluate("tf.backend().gpgpu.gl.isContextLost()") is True
        stylize(page)
        assert "webgl engine lost its graphics context; switched to wasm" in status(page)
        assert widget(page).get_attribute("data-backend") == "wasm"
        assert worker.evaluate("tf.getBackend()") == "wasm"
        on_wasm = result(page)
        assert on_wasm.shape == on_webgl.shape == (*expected_size(*image_size(site, "coffee.jpg"), 256), 3)
        assert on_wasm.std() > 5, "blank result after the switch"
        # the same model on another backend: the same picture (not the zeros a lost context leaves)
        assert np.abs(on_wasm.astype(int) - on_webgl.astype(int)).mean() < 2
        stylize(page)                                   # and the widget goes on working
        assert "switched" not in status(page)
        assert page.errors == []
    finally:
        ctx.close()


def test_gpu_size_limit_retries_at_a_smaller_resolution(browser, site, webgl_page):
    ctx, page = open_page(browser, webgl_page)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready", status(page)
        pick_samples(page)
        set_control(page, "resolution", 512)
        # a GPU whose largest texture is 640 px (real ones allow 4096 to 16384): TF.js refuses the 512 px run's
        # biggest tensors, and the 352 px run's fit
        engine_worker(page).evaluate("tf.env().set('WEBGL_MAX_TEXTURE_SIZE', 640)")
        stylize(page)
        text = status(page)
        assert "Ran out of memory at 512 px; retried at 352 px." in text, text
        assert widget(page).get_attribute("data-backend") == "webgl"
        out = result(page)
        assert out.shape[:2] == expected_size(*image_size(site, "coffee.jpg"), 352)
        assert out.std() > 5
        assert widget(page).locator("input[name=resolution]").input_value() == "352"  # the slider says what ran
        assert page.errors == []
    finally:
        ctx.close()


def test_webgl_is_released_when_wasm_wins(browser, site):
    ctx, page = open_page(browser, site.article)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready"
        worker = engine_worker(page)
        backend = widget(page).get_attribute("data-backend")
        measured = page.evaluate("document.querySelector('.stylizer').stylizer.engine.info.selftest.map(r => r.backend)")
        assert "webgl" in measured, measured
        alive = worker.evaluate("Object.keys(tf.engine().registry)")
        assert backend in alive
        if backend != "webgl":
            assert "webgl" not in alive, "the self-test's WebGL context is still held"
            assert worker.evaluate("!!tf.findBackendFactory('webgl')")  # but can be started again as a fallback
    finally:
        ctx.close()


def paste_on(page, selector, png: bytes, name="pasted.png"):
    page.evaluate("""([sel, b64, name]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name, {type: 'image/png'}));
        document.querySelector(sel).dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));
    }""", [selector, base64.b64encode(png).decode(), name])


def test_paste_anywhere_goes_to_the_widget_last_used(browser, site):
    ctx, page = open_page(browser, site.widgets)
    try:
        for n in (0, 1):
            assert wait_state(page, ["ready", "error"], nth=n) == "ready"
        has = "([n, slot]) => document.querySelectorAll('.stylizer')[n].querySelector(`[data-role=drop-${slot}]`).classList.contains('has-image')"
        # nothing used yet: a paste on the page goes to the first widget on screen, photo first
        paste_on(page, "body", png_bytes(pattern(64, 96, seed=1)))
        page.wait_for_function(has, arg=[0, "content"])
        paste_on(page, "main", png_bytes(pattern(80, 80, seed=2)))
        page.wait_for_function(has, arg=[0, "style"])
        # after the reader works in the second widget, page-wide pastes go there
        widget(page, 1).locator("input[name=iterations]").focus()
        paste_on(page, "body", png_bytes(pattern(64, 96, seed=3)))
        page.wait_for_function(has, arg=[1, "content"])
        assert not page.evaluate(has, [1, "style"])
        # typing in a text field is not an image paste
        page.evaluate("""() => { const t = document.createElement('textarea'); t.id = 'notes'; document.body.append(t); }""")
        paste_on(page, "#notes", png_bytes(pattern(64, 64, seed=4)))
        page.wait_for_timeout(300)
        assert not page.evaluate(has, [1, "style"])
        assert page.errors == []
    finally:
        ctx.close()
