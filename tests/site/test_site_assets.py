"""Static files: fingerprinted names, bundle directories versioned as a unit, verbatim copies, and
copying only what changed."""
import hashlib
import os

import pytest

from site_builder.assets import AssetError, plan_assets
from site_builder.config import load_config
from site_builder.output import copy_assets
from tests.site.helpers import make_site

CONFIG = """title: T
author: A
base_url: https://example.github.io/repo/
assets:
  fingerprint: [css, js]
  bundles: [widget]
"""


@pytest.fixture
def site(tmp_path):
    return make_site(tmp_path, {
        "static/js/app.js": "console.log(1)\n",
        "static/widget/main.js": "import './util.js';\n",
        "static/widget/util.js": "export const x = 1;\n",
        "static/widget/sub/worker.js": "self.onmessage = () => {};\n",
        "static/model/manifest.json": "{}\n",
        "static/vendor/lib-1.2.3/lib.js": "var lib;\n",
        "static/.hidden": "skip me",
    }, config=CONFIG, defaults=False)


def plan_for(site):
    config = load_config(site)
    return plan_assets(site, config, {"css/generated.css": b"p{}"})


def test_fingerprinted_files_carry_their_content_hash(site):
    plan, errors = plan_for(site)
    assert errors == []
    digest = hashlib.sha256((site / "static/css/site.css").read_bytes()).hexdigest()[:10]
    assert plan.asset_url("css/site.css") == f"/repo/css/site.{digest}.css"
    assert plan.asset_url("js/app.js").startswith("/repo/js/app.") and plan.asset_url("js/app.js").endswith(".js")
    gen = hashlib.sha256(b"p{}").hexdigest()[:10]
    assert plan.asset_url("css/generated.css") == f"/repo/css/generated.{gen}.css"


def test_bundle_is_one_versioned_directory_with_names_unchanged(site):
    plan, _ = plan_for(site)
    urls = [plan.asset_url(n) for n in ("widget/main.js", "widget/util.js", "widget/sub/worker.js")]
    prefix = urls[0].rsplit("/", 1)[0]
    assert prefix.startswith("/repo/widget.") and len(prefix.split(".")[-1]) == 10
    assert urls == [f"{prefix}/main.js", f"{prefix}/util.js", f"{prefix}/sub/worker.js"]
    # changing any file in the bundle changes the version of all of them
    (site / "static/widget/util.js").write_text("export const x = 2;\n")
    plan2, _ = plan_for(site)
    assert plan2.asset_url("widget/main.js") != urls[0]


def test_other_files_are_copied_verbatim_and_hidden_files_skipped(site):
    plan, _ = plan_for(site)
    assert plan.asset_url("model/manifest.json") == "/repo/model/manifest.json"
    assert plan.asset_url("vendor/lib-1.2.3/lib.js") == "/repo/vendor/lib-1.2.3/lib.js"
    assert ".hidden" not in plan.entries


def test_unknown_asset_is_a_clear_error(site):
    plan, _ = plan_for(site)
    with pytest.raises(AssetError, match=r"asset_url\('css/nope.css'\): no file static/css/nope.css"):
        plan.asset_url("css/nope.css")


def test_unchanged_files_are_linked_not_copied(site, tmp_path):
    plan, _ = plan_for(site)
    first, second = tmp_path / "out1", tmp_path / "out2"
    first.mkdir(), second.mkdir()
    copied = copy_assets(plan.entries.values(), first, None)
    assert copied == len([e for e in plan.entries.values() if e.src is not None])
    (site / "static/model/manifest.json").write_text('{"v": 2}\n')
    plan, _ = plan_for(site)
    copied2 = copy_assets(plan.entries.values(), second, first)
    assert copied2 == 1
    assert os.stat(second / "vendor/lib-1.2.3/lib.js").st_ino == os.stat(first / "vendor/lib-1.2.3/lib.js").st_ino
    assert os.stat(second / "model/manifest.json").st_ino != os.stat(first / "model/manifest.json").st_ino
    assert (second / "model/manifest.json").read_text() == '{"v": 2}\n'
