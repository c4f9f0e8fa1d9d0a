"""The article's static example of the attention explorer (static/images/attention-example.jpg).

A sample photo and a sample painting from static/samples/ (licences in its SOURCES.md; never the training data)
at the widget's settings, stylized by a checkpoint in PyTorch (full precision); for a few points of the photo,
the rows of the relu4_1 attention map (SANetModel.attention_padded: softmax_j f(mvn(Fc_i))^T g(mvn(Fs_j))) drawn
over the style image with the page's own heat map and text (static/stylizer/attention.js, run in Node), so the
figure shows exactly what the explorer draws. Prints each point's text alternative for the article.

    .venv/bin/python scripts/attention_example.py [--weights model/checkpoints/shipped.safetensors]
        [--content chelsea.jpg] [--style starry-night.jpg] [--resolution 384] [--points 145,97 215,40 90,200 360,150]
"""
from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.architecture import ATTENTION_STRIDES, STYLE_MAX_RESOLUTION, fit_long_side  # noqa: E402
from model.images import read_image  # noqa: E402
from model.pipeline import fit_within  # noqa: E402
from model.sanet_torch import reflect_pad_to_multiple  # noqa: E402
from model.weights import load_checkpoint  # noqa: E402

SAMPLES = ROOT / "static" / "samples"
ATTENTION_JS = ROOT / "static" / "stylizer" / "attention.js"
TOP = 5   # as the explorer (explorer.js)
# The explorer's panels and texts, by the page's code (attention.js): rows in on stdin (JSON), RGBA out (base64).
RENDER = """
import { summarizeRow, reflectPadRGBA, attentionPanel } from %s;
let input = '';
for await (const chunk of process.stdin) input += chunk;
const spec = JSON.parse(input);
const st = Buffer.from(spec.styleRGBA, 'base64');
const [sh, sw] = spec.style, [SH, SW] = spec.padded;
const base = reflectPadRGBA(new Uint8ClampedArray(st.buffer, st.byteOffset, st.length), sh, sw, SH, SW);
const layout = { grid: spec.grid, stride: spec.stride, style: spec.style, padded: spec.padded };
const rows = spec.rows.map((r) => {
  const w = Float64Array.from(r);
  const s = summarizeRow(w, spec.grid, spec.style, spec.stride, %d);
  const px = attentionPanel(base, w, layout, s);
  return { text: s.text, sum: s.sum, max: s.max, rgba: Buffer.from(px.buffer, px.byteOffset, px.length).toString('base64') };
});
console.log(JSON.stringify({ rows }));
"""


def to_torch(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None]


def to_pil(t: torch.Tensor) -> Image.Image:
    return Image.fromarray((t[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))


def render(rows: list[np.ndarray], grid, style_size, padded, stride, style_pixels: Image.Image) -> dict:
    spec = {"rows": [r.tolist() for r in rows], "grid": list(grid), "style": list(style_size), "padded": list(padded),
            "stride": stride, "styleRGBA": base64.b64encode(style_pixels.convert("RGBA").tobytes()).decode()}
    proc = subprocess.run(["node", "--input-type=module", "-e", RENDER % (json.dumps(ATTENTION_JS.as_uri()), TOP)],
                          input=json.dumps(spec), capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode:
        raise SystemExit(f"rendering with attention.js failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def badge(draw: ImageDraw.ImageDraw, xy, label: str, font) -> None:
    x, y = xy
    draw.ellipse([x - 11, y - 11, x + 11, y + 11], fill=(255, 255, 255), outline=(0, 0, 0), width=2)
    draw.text((x, y), label, fill=(0, 0, 0), font=font, anchor="mm")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=ROOT / "model" / "checkpoints" / "shipped.safetensors")
    p.add_argument("--content", default="chelsea.jpg")
    p.add_argument("--style", default="starry-night.jpg")
    p.add_argument("--resolution", type=int, default=384)
    p.add_argument("--level", choices=sorted(ATTENTION_STRIDES), default="relu4_1")
    p.add_argument("--points", nargs="+", default=["145,97", "215,40", "90,200", "360,150"],
                   help="x,y points of the output picture (px)")
    p.add_argument("--out", type=Path, default=ROOT / "static" / "images" / "attention-example.jpg")
    args = p.parse_args(argv)

    model, meta = load_checkpoint(args.weights)
    model.eval()
    content, style = to_torch(read_image(SAMPLES / args.content)), to_torch(read_image(SAMPLES / args.style))
    # the page's sizes (sizes.js planSizes): the photo's long side = resolution, the style within min(512, it)
    out_size = fit_long_side(*content.shape[-2:], args.resolution)
    small = torch.nn.functional.interpolate(content, size=out_size, mode="bilinear", align_corners=False, antialias=True)
    style_small = fit_within(style, min(STYLE_MAX_RESOLUTION, args.resolution))
    padded, (h, w) = reflect_pad_to_multiple(small)
    style_padded, (sh, sw) = reflect_pad_to_multiple(style_small)
    stride = ATTENTION_STRIDES[args.level]
    with torch.no_grad():
        result = model.stylize_padded(padded, style_padded)[:, :, :h, :w]
        maps = model.attention_padded(padded, style_padded)
    A = maps[args.level][0].double().numpy()
    gw = padded.shape[-1] // stride
    grid = (style_padded.shape[-2] // stride, style_padded.shape[-1] // stride)
    points = [tuple(int(v) for v in s.split(",")) for s in args.points]
    cells = [(min(y, h - 1) // stride, min(x, w - 1) // stride) for x, y in points]
    rows = [A[r * gw + c] for r, c in cells]
    drawn = render(rows, grid, (sh, sw), style_padded.shape[-2:], stride, to_pil(style_small))

    font = ImageFont.load_default(size=15)
    gap, n = 12, len(points)
    SH, SW = style_padded.shape[-2:]
    cols = 2                                    # two panels a row: the figure fits the article's measure
    width = max(2 * w + gap, cols * SW + (cols - 1) * gap) + 2 * gap
    height = gap + h + gap + -(-n // cols) * (SH + gap)
    fig = Image.new("RGB", (width, height), (255, 255, 255))
    left = (width - (2 * w + gap)) // 2
    for i, img in enumerate((to_pil(small[:, :, :h, :w]), to_pil(result))):
        x0 = left + i * (w + gap)
        fig.paste(img, (x0, gap))
        d = ImageDraw.Draw(fig)
        for k, ((px, py), (r, c)) in enumerate(zip(points, cells), start=1):
            d.rectangle([x0 + c * stride, gap + r * stride, x0 + (c + 1) * stride - 1, gap + (r + 1) * stride - 1],
                        outline=(255, 255, 255), width=2)
            badge(d, (x0 + c * stride + stride // 2, gap + r * stride - 14 if r * stride > 20 else gap + (r + 1) * stride + 14),
                  str(k), font)
    top = gap + h + gap
    left = (width - (cols * SW + (cols - 1) * gap)) // 2
    for k, row in enumerate(drawn["rows"], start=1):
        panel = Image.frombytes("RGBA", (SW, SH), base64.b64decode(row["rgba"])).convert("RGB")
        badge(ImageDraw.Draw(panel), (16, 16), str(k), font)
        fig.paste(panel, (left + (k - 1) % cols * (SW + gap), top + (k - 1) // cols * (SH + gap)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.save(args.out, quality=90)
    print(f"wrote {args.out} ({fig.width}x{fig.height}); {args.content} at {w}x{h}, "
          f"{args.style} at {sw}x{sh} (padded {SW}x{SH}), {args.level}, weights {args.weights.name} "
          f"({'trained' if meta.get('trained') else 'untrained'})")
    visible = [r * gw + c for r in range(-(-h // stride)) for c in range(-(-w // stride))]
    rows_all = A[visible]
    spread = np.exp(-(rows_all * np.log(np.maximum(rows_all, 1e-300))).sum(1))   # exp(entropy): cells in effect
    print(f"over all {len(visible)} positions of the photo: median strongest-cell weight "
          f"{np.median(rows_all.max(1)):.2f}, median weight spread over {np.median(spread):.1f} cells in effect "
          f"(exp of the row's entropy; 90th percentile {np.quantile(spread, 0.9):.1f}) of {A.shape[1]}")
    for k, ((px, py), (r, c), row) in enumerate(zip(points, cells, drawn["rows"]), start=1):
        print(f"{k}. point {px},{py} (cell {r},{c}): sum {row['sum']:.6f}; {row['text']}")


if __name__ == "__main__":
    main()
