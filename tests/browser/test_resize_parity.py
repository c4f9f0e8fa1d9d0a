"""The widget's resize (static/stylizer/resize.js) against the Python pipeline's (torch bilinear, antialias)."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np

from tests.browser.sitekit import ROOT

import torch  # noqa: E402  (installed with the model extra, like the rest of the suite)


def test_resize_matches_torch_antialiased_bilinear(tmp_path):
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    src = torch.rand(1, 3, 37, 53, generator=g)
    sizes = [(16, 24), (37, 53), (80, 100), (20, 60), (9, 7)]
    want = {f"{h}x{w}": F.interpolate(src, size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]
            .permute(1, 2, 0).flatten().tolist() for h, w in sizes}
    (tmp_path / "case.json").write_text(json.dumps({"src": src[0].permute(1, 2, 0).flatten().tolist(), "sizes": sizes}))
    script = tmp_path / "run.mjs"
    script.write_text(f"""
import {{ resizeBilinearAA }} from {json.dumps((ROOT / 'static/stylizer/resize.js').as_uri())};
import {{ readFileSync }} from 'node:fs';
const c = JSON.parse(readFileSync({json.dumps(str(tmp_path / 'case.json'))}));
const out = {{}};
for (const [h, w] of c.sizes) out[`${{h}}x${{w}}`] = Array.from(resizeBilinearAA(Float32Array.from(c.src), 37, 53, 3, h, w));
console.log(JSON.stringify(out));
""")
    r = subprocess.run([shutil.which("node"), str(script)], capture_output=True, text=True, check=True)
    got = json.loads(r.stdout)
    for key, values in want.items():
        err = np.abs(np.array(got[key]) - np.array(values)).max()
        assert err < 1e-5, (key, err)
