"""The attention explorer in headless Chromium on the built site: hovering the result shows that point's attention
row over the style image (the heat map changes with the point, the marker follows), the arrow keys move it, the
toggle switches to relu5_1, the text alternative says what the map shows, and nothing leaves the page; on the
float32 export, the rows the page computes in its worker equal PyTorch's on the same images and settings."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import numpy as np
import torch

from model.architecture import STYLE_MAX_RESOLUTION
from model.images import read_image
from model.pipeline import fit_within
from model.sanet_torch import reflect_pad_to_multiple
from model.weights import load_checkpoint
from tests.browser.conftest import DEFAULT_CKPT
from tests.browser.sitekit import CONTENT_SIZE
from tests.browser.test_stylizer import open_page, pick_samples, set_control, stylize, wait_state, widget

TOL = 1e-3


def explorer(page, nth=0) -> dict:
    return page.evaluate("""n => {
        const s = document.querySelectorAll('.stylizer')[n].stylizer, e = s.explorer;
        const c = e.el.map, d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let h = 0; for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) >>> 0;
        return {cell: e.cell, level: e.level, desc: e.desc, hash: h, size: [c.width, c.height],
                row: e.row ? Array.from(e.row) : null, summary: e.el.summary.textContent,
                marker: e.el.marker.hidden ? null : e.el.marker.getBoundingClientRect().toJSON()};
    }""", nth)


def hover(page, x, y, nth=0):
    """Move the mouse onto output pixel (x, y) of the result and wait for that cell's row to be drawn."""
    box = widget(page, nth).locator("canvas[data-role=result]").bounding_box()
    w = page.evaluate("n => document.querySelectorAll('.stylizer')[n].querySelector('canvas[data-role=result]').width", nth)
    scale = box["width"] / w
    page.mouse.move(box["x"] + (x + 0.5) * scale, box["y"] + (y + 0.5) * scale)
    wait_drawn(page, nth)
    return explorer(page, nth)


def wait_drawn(page, nth=0):
    page.wait_for_function("""n => { const r = document.querySelectorAll('.stylizer')[n];
        const e = r.stylizer.explorer, p = r.querySelector('[data-role=attention]');
        return e.cell && p.dataset.index === String(e.cell.index) && p.dataset.level === e.level && !e.busy; }""",
                           arg=nth, timeout=30_000)


def assert_local_only(seen, site):
    """Every request went to our server as a plain GET of a file the site serves (none carries image data)."""
    server = urlparse(site.base)
    for method, url, body in seen:
        u = urlparse(url)
        if u.scheme in ("data", "blob"):
            continue
        assert (u.hostname, u.port) == (server.hostname, server.port), url
        assert method == "GET" and not body and not u.query, (method, url)
        served = site.root / u.path[len(server.path):]
        assert (served / "index.html" if u.path.endswith("/") else served).is_file(), f"{url} is not a site file"


def test_hover_keys_toggle_and_text_on_the_shipped_model(browser, site):
    ctx, page = open_page(browser, site.article)
    seen = []
    ctx.on("request", lambda r: seen.append((r.method, r.url, r.post_data_buffer)))
    try:
        assert wait_state(page, ["ready", "error"]) == "ready"
        root = widget(page)
        panel = root.locator("[data-role=attention]")
        assert panel.is_hidden()                                          # nothing to explore before a run
        pick_samples(page, "chelsea.jpg", "starry-night.jpg")
        set_control(page, "resolution", 256)
        stylize(page)
        assert panel.is_visible()
        e = explorer(page)
        h, w = e["desc"]["output"]
        assert (h, w) == (170, 256) and e["size"] == [e["desc"]["stylePadded"][1], e["desc"]["stylePadded"][0]]
        assert e["desc"]["levels"]["relu4_1"]["content"] == [176 // 8, 256 // 8]

        a = hover(page, 40, 30)
        assert a["cell"] == {"row": 3, "col": 5, "index": 3 * 32 + 5} and a["level"] == "relu4_1"
        grid = a["desc"]["levels"]["relu4_1"]["styleGrid"]
        assert len(a["row"]) == grid[0] * grid[1] and abs(sum(a["row"]) - 1) < 1e-4
        assert re.match(r"Point 44, 28 of the 256×170 picture \(relu4_1\): most weight (near the |on the reflected strip)",
                        a["summary"]), a["summary"]
        assert "in the top 5 cells" in a["summary"]
        box = root.locator("canvas[data-role=result]").bounding_box()
        m = a["marker"]                                                   # the marker sits on the chosen cell
        assert abs(m["x"] - (box["x"] + 40 * box["width"] / w)) <= 0.6 * 8 * box["width"] / w
        assert abs(m["width"] - 8 * box["width"] / w) < 1.5
        b = hover(page, 220, 150)
        assert b["cell"]["index"] != a["cell"]["index"] and b["row"] != a["row"]
        assert b["hash"] != a["hash"], "the heat map did not change with the point"
        assert b["summary"] != a["summary"]

        target = root.locator("[data-explorer=on]")                       # keyboard: the result takes focus
        target.focus()
        page.keyboard.press("ArrowLeft")
        wait_drawn(page)
        c = explorer(page)
        assert (c["cell"]["row"], c["cell"]["col"]) == (b["cell"]["row"], b["cell"]["col"] - 1)
        page.keyboard.press("Shift+ArrowUp")
        wait_drawn(page)
        d = explorer(page)
        assert (d["cell"]["row"], d["cell"]["col"]) == (c["cell"]["row"] - 4, c["cell"]["col"])
        assert d["hash"] != c["hash"] or d["row"] != c["row"]

        root.locator("input[name=attention-relu5_1]").check()          # the deeper module, same point
        wait_drawn(page)
        f = explorer(page)
        grid5 = f["desc"]["levels"]["relu5_1"]["styleGrid"]
        assert f["level"] == "relu5_1" and len(f["row"]) == grid5[0] * grid5[1] and abs(sum(f["row"]) - 1) < 1e-4
        assert f["cell"] == {"row": d["cell"]["row"] // 2, "col": d["cell"]["col"] // 2,
                             "index": d["cell"]["row"] // 2 * 16 + d["cell"]["col"] // 2}
        assert "(relu5_1)" in f["summary"] and abs(f["marker"]["width"] - 2 * d["marker"]["width"]) < 1.5
        assert root.locator("[data-role=attention-summary]").get_attribute("aria-live") == "polite"
        assert target.get_attribute("aria-describedby") == root.locator("[data-role=attention-summary]").get_attribute("id")

        root.locator("[data-action=stylize]").click()                     # a new run: the old attention goes away
        assert panel.is_hidden()
        assert wait_state(page, ["done", "error"]) == "done"
        assert panel.is_visible() and explorer(page)["cell"] is None
        assert page.errors == []
        assert_local_only(seen, site)
    finally:
        ctx.close()


def test_rows_in_chromium_match_pytorch_on_the_float32_export(browser, site, parity, parity_page):
    """The rows the page's worker computes, read from the explorer, against SANetModel.attention_padded on the
    same images at the same settings: a 200x288 photo run at 288 px (padded to 208x288) and a 300x437 style
    fitted to 198x288 (padded to 208x288)."""
    ctx, page = open_page(browser, parity_page)
    try:
        assert wait_state(page, ["ready", "error"]) == "ready"
        page.set_input_files("input[name=content]", str(parity.content))
        page.set_input_files("input[name=style]", str(parity.style))
        page.wait_for_function("/Ready to stylize/.test(document.querySelector('[data-role=status]').textContent)")
        set_control(page, "resolution", 288)
        stylize(page)
        model, _ = load_checkpoint(DEFAULT_CKPT)
        model.eval()
        to_t = lambda p: torch.from_numpy(read_image(p)).permute(2, 0, 1)[None]  # noqa: E731
        content, _ = reflect_pad_to_multiple(fit_within(to_t(parity.content), 288))
        style, _ = reflect_pad_to_multiple(fit_within(to_t(parity.style), min(STYLE_MAX_RESOLUTION, 288)))
        with torch.no_grad():
            maps = model.attention_padded(content, style)
        h, w = CONTENT_SIZE
        worst = 0.0
        for level in ("relu4_1", "relu5_1"):
            if level == "relu5_1":
                widget(page).locator("input[name=attention-relu5_1]").check()
            for x, y in [(2, 2), (w // 2, h // 2), (w - 1, h - 1)]:
                got = hover(page, x, y)
                assert got["level"] == level
                ref = maps[level][0, got["cell"]["index"]].double().numpy()
                row = np.asarray(got["row"], np.float64)
                assert row.shape == ref.shape and abs(row.sum() - 1) < 1e-4
                worst = max(worst, float(np.abs(row - ref).max()))
                assert np.abs(row - ref).max() <= TOL, (level, x, y, np.abs(row - ref).max())
        print(f"Chromium rows vs PyTorch (float32 export): max abs difference {worst:.2e}")
    finally:
        ctx.close()
