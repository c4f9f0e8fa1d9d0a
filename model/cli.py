"""python -m model stylize | export | convert-original | init | train | evaluate | background

User errors (missing or unreadable files, bad checkpoints, unusable image sizes) print one line naming the
file and the problem and exit with status 2; only bugs print a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

# Mirrors model.export.QUANTIZATIONS (not imported here: that module loads TensorFlow); a test keeps them equal.
QUANTIZE_CHOICES = ("float16", "uint8", "mixed", "uint8-per-channel")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")   # TensorFlow's start-up chatter is not for CLI users

ROOT = Path(__file__).resolve().parent.parent
# The TF.js check every export runs and records in its manifest (parity.tfjs_vs_tf): synthetic pictures
# (tfjs_check.synthetic_image height, width, seed), this many iterations, alpha 1.
EXPORT_CHECK = {"content": (96, 128, 1), "style": (64, 64, 2), "iterations": 2}
SHIPPED_WEIGHTS = Path(__file__).resolve().parent / "checkpoints" / "shipped.safetensors"   # what the site serves
INIT_WEIGHTS = Path(__file__).resolve().parent / "checkpoints" / "sanet-vgg16-init.safetensors"  # untrained


class UserError(Exception):
    pass


def _images_in(path: Path) -> list[Path]:
    from .images import IMAGE_SUFFIXES

    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise UserError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return found
    return [path]


def _load_model(weights: Path, vgg: Path | None):
    from .weights import load_checkpoint

    model, meta = load_checkpoint(weights, vgg_path=vgg)
    if not meta.get("trained", False):
        print(f"note: {weights.name} holds UNTRAINED weights (deterministic init); expect noise, not style",
              file=sys.stderr)
    return model, meta


def cmd_stylize(args) -> None:
    import torch
    from tqdm import tqdm

    from .architecture import STYLE_MAX_RESOLUTION
    from .images import image_size, read_image, write_image
    from .pipeline import stylize

    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha must be in [0, 1], got {args.alpha}")
    if args.iterations < 1:
        raise UserError(f"--iterations must be at least 1, got {args.iterations}")
    if args.max_resolution < 32:
        raise UserError(f"--max-resolution must be at least 32, got {args.max_resolution}")
    if not 0.0 <= args.mix <= 1.0:
        raise UserError(f"--mix must be in [0, 1], got {args.mix}")
    if args.mix < 1.0 and not args.style2:
        raise UserError("--mix needs --style2, the second style to mix in")
    style2 = Path(args.style2) if args.style2 else None
    contents = _images_in(Path(args.content))
    styles = [p for s in args.style for p in _images_in(Path(s))]
    pairs = [(c, s) for c in contents for s in styles]
    targets = _output_targets(Path(args.output), pairs, [*contents, *styles, *([style2] if style2 else [])])
    # check every input's header (nothing decoded yet) before the slow work starts
    sizes = {p: image_size(p, "content") for p in contents}
    for p in styles + ([style2] if style2 else []):
        image_size(p, "style")
    model, _ = _load_model(Path(args.weights), args.vgg)
    to_torch = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None]  # noqa: E731
    style_side = min(STYLE_MAX_RESOLUTION, args.max_resolution)
    mixed = to_torch(read_image(style2, "style", long_side=style_side)) if style2 and args.mix < 1.0 else None
    loaded = None   # (path, tensor): one content decoded at a time, reduced to about the run's resolution
    for (content, style), target in tqdm(list(zip(pairs, targets)), desc="stylize", unit="image",
                                         disable=len(pairs) == 1):
        if loaded is None or loaded[0] != content:
            loaded = None   # let the previous content go before the next is decoded
            loaded = content, to_torch(read_image(content, "content", long_side=args.max_resolution))
        width, height = sizes[content]
        try:
            result = stylize(model, loaded[1], to_torch(read_image(style, "style", long_side=style_side)),
                             args.iterations, args.max_resolution, args.alpha, output_size=(height, width),
                             style2=mixed, mix=args.mix)
        except ValueError as exc:
            raise UserError(f"{content} with {style}: {exc}") from None
        write_image(target, result[0].permute(1, 2, 0).numpy())
        del result
        print(f"wrote {target}")


def _output_targets(out: Path, pairs: list[tuple[Path, Path]], inputs: list[Path]) -> list[Path]:
    """The file each (content, style) pair is written to, checked before any work: a format Pillow writes, in
    a folder that exists or can be made and is writable, never an input, never two pairs to one file."""
    folder = len(pairs) > 1 or out.is_dir()
    if len(pairs) > 1 and out.suffix and not out.is_dir():
        raise UserError(f"-o {out}: several outputs ({len(pairs)}) need a folder, not a file name")
    targets = [out / f"{c.stem}--{s.stem}.png" for c, s in pairs] if folder else [out]
    if not folder:
        from .images import writable_format

        if writable_format(out) is None:
            raise UserError(f"-o {out}: no image format to write for {out.suffix or 'a name without an extension'}"
                            "; use .png or .jpg")
    seen: dict[Path, tuple[Path, Path]] = {}
    for pair, target in zip(pairs, targets):
        if target in seen:
            raise UserError(f"-o {out}: {seen[target][0]} with {seen[target][1]} and {pair[0]} with {pair[1]} "
                            f"would both be written to {target}")
        seen[target] = pair
        for p in inputs:
            if target.resolve() == p.resolve() or (target.exists() and p.exists() and os.path.samefile(target, p)):
                raise UserError(f"-o {out}: writing {target} would overwrite the input {p}")
        if target.is_dir():
            raise UserError(f"-o {out}: {target} is a folder")
    where = out if folder else out.parent
    existing = where
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"-o {out}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"-o {out}: cannot write in {existing} (permission denied)")
    return targets


def cmd_export(args) -> None:
    from tqdm import tqdm

    from .export import export_tfjs
    from .sanet_tf import from_torch
    from .tfjs_check import NodeUnavailable, compare, pad_nhwc, run_tfjs, synthetic_image, tf_reference

    bench = None
    if args.bench:   # bench/quantization.py --json: quality of every quantization option, measured
        try:
            bench = json.loads(Path(args.bench).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"--bench {args.bench}: not a readable JSON file ({exc})") from None
    steps = tqdm(total=3, desc="export", unit="step")
    weights = Path(args.weights)
    model, meta = _load_model(weights, args.vgg)
    steps.update()
    tf_model = from_torch(model)
    trained = bool(meta.get("trained", False))
    name = args.name or f"sanet-{model.encoder_name}" + ("" if trained else "-untrained")
    description = meta.get("description") or ("SANet style transfer" if trained else
                                               "UNTRAINED weights (deterministic init): the output is not a "
                                               "stylization; for developing the page against only")
    if not trained and "untrained" not in description.lower():
        description = "UNTRAINED weights: " + description
    parity = _torch_tf_parity(model, tf_model)
    if bench is not None:
        parity["quantization_bench"] = bench
    if args.saved_model:   # the serving SavedModel (signatures serving_default: float, serving_uint8)
        from .sanet_tf import save_serving
        save_serving(tf_model, args.saved_model)
    steps.update()

    def tfjs_parity(folder: Path) -> dict:
        """The converted graphs in TF.js (Node), quantization included, against float32 TensorFlow."""
        content = pad_nhwc(synthetic_image(*EXPORT_CHECK["content"]))
        style = pad_nhwc(synthetic_image(*EXPORT_CHECK["style"]))
        iterations = EXPORT_CHECK["iterations"]
        try:
            outputs, info = run_tfjs(folder, content, style, iterations=iterations, alpha=1.0)
        except NodeUnavailable as exc:
            return {"tfjs_vs_tf": f"not measured: {exc}"}
        figures = compare(outputs, tf_reference(tf_model, content, style, iterations=iterations))
        return {"tfjs_vs_tf": {"backend": info["backend"], "iterations": iterations, **_rounded(figures),
                               "case": "cli.EXPORT_CHECK", "note": "TF.js graphs (as exported, quantization "
                               "included) vs float32 TensorFlow"}}

    source = {"file": _display_path(weights), "sha256": _file_sha256(weights)}
    manifest = export_tfjs(tf_model, Path(args.out), name=name, trained=trained, description=description,
                           quantize=args.quantize, parity=parity, training=meta.get("training"), weights=source,
                           check=tfjs_parity)
    steps.update()
    steps.close()
    print(f"exported {manifest['version']} ({manifest['total_bytes'] / 1e6:.2f} MB, quantization "
          f"{manifest['quantization']}) to {args.out}")


def _display_path(path: Path) -> str:
    """`path` relative to the repository when inside it (as the manifest records it), else absolute."""
    path = path.resolve()
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)


def _file_sha256(path: Path) -> str:
    import hashlib

    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _rounded(figures: dict) -> dict:
    return {k: v if v is None else float(f"{v:.3g}") for k, v in figures.items()}


def _torch_tf_parity(model, tf_model) -> dict:
    """PyTorch vs TensorFlow on a synthetic image through the whole pipeline (float32 both)."""
    import numpy as np
    import tensorflow as tf
    import torch

    from .pipeline import stylize
    from .tfjs_check import max_rel, synthetic_image

    content, style = synthetic_image(75, 101, 3)[0], synthetic_image(64, 80, 4)[0]
    ref = stylize(model, torch.from_numpy(content).permute(2, 0, 1)[None],
                  torch.from_numpy(style).permute(2, 0, 1)[None], 1, 512, 1.0)[0].permute(1, 2, 0).numpy()
    got = tf_model.serve_float(tf.constant(content), tf.constant(style), tf.constant(1), tf.constant(512),
                               tf.constant(1.0))["stylized"].numpy()
    return {"image": "synthetic 75x101 content, 64x80 style (model/tfjs_check.py)",
            "torch_vs_tf_image_max_rel": float(f"{max_rel(got, np.asarray(ref)):.3g}")}


def cmd_convert_original(args) -> None:
    from .weights import load_original, save_checkpoint

    model = load_original(args.vgg, args.decoder, args.transform)
    save_checkpoint(args.output, model, {
        "trained": True, "description": "original SANet release (GlebSBrykin/SANET), converted",
        "training": {"source": "original release", "files": [Path(args.decoder).name, Path(args.transform).name]}})
    print(f"wrote {args.output} (encoder vgg19-normalised: pass --vgg {args.vgg} when using it)")


def cmd_init(args) -> None:
    """Deterministic-init checkpoint: vgg16 encoder normalised over a fixed list of images, random rest."""
    import torch

    from .data import center_square
    from .images import IMAGE_SUFFIXES
    from .weights import compute_encoder_scales, init_model, save_checkpoint

    data = Path(args.data)
    lists = {}
    for kind in ("photos", "paintings"):
        folder = data / kind
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder (expected ../shared/data/photos and paintings)")
        lists[kind] = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:args.count]
    paths = [data / kind / name for kind, names in lists.items() for name in names]
    images = torch.stack([center_square(p, 224) for p in paths])
    scales = compute_encoder_scales(init_model("vgg16", seed=args.seed), images)
    model = init_model("vgg16", seed=args.seed, scales=scales)
    save_checkpoint(args.output, model, {
        "trained": False, "seed": args.seed, "training": None,
        "description": "UNTRAINED weights: deterministic random init of transform and decoder (He-normal, "
                       f"seed {args.seed}); real VGG-16 encoder normalised per channel",
        "encoder_scales_images": {k: v for k, v in lists.items()}, "encoder_scales_image_size": 224})
    print(f"wrote {args.output}")


def _dispatch(module: str):
    def run(args) -> None:
        try:
            mod = importlib.import_module(f"model.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"model.{module}":
                raise UserError(f"'{module}' is not available yet: model/{module}.py is missing") from None
            raise
        status = mod.main(args.rest)
        if status:
            sys.exit(status)
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model", description="SANet style transfer: stylize, "
                                     "export to TensorFlow.js, import the original weights.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("stylize", help="stylize a photo (or a folder of photos) with one or more styles")
    p.add_argument("content", help="content image, or a folder of them")
    p.add_argument("style", nargs="+", help="style image(s) or folder(s)")
    p.add_argument("-o", "--output", required=True, help="output image (or folder, for several outputs)")
    p.add_argument("--iterations", type=int, default=1)
    p.add_argument("--max-resolution", type=int, default=512, help="long side the content is run at (px)")
    p.add_argument("--alpha", type=float, default=1.0, help="style strength in [0, 1]")
    p.add_argument("--style2", help="a second style image, mixed into every style by --mix")
    p.add_argument("--mix", type=float, default=1.0,
                   help="share of the first style, in [0, 1]: mix * T(c, style) + (1 - mix) * T(c, style2)")
    p.add_argument("--weights", default=str(SHIPPED_WEIGHTS),
                   help="our checkpoint (.safetensors; default: the trained one the site serves)")
    p.add_argument("--vgg", help="vgg_normalised.pth, for checkpoints with the vgg19-normalised encoder")
    p.set_defaults(run=cmd_stylize)

    p = sub.add_parser("export", help="export to TensorFlow.js graph models + manifest.json")
    p.add_argument("--weights", default=str(SHIPPED_WEIGHTS))
    p.add_argument("--out", required=True, help="folder for manifest.json and <version>/ (e.g. static/model)")
    p.add_argument("--quantize", choices=QUANTIZE_CHOICES, default=None,
                   help="weight storage (default float32); the shipped model uses uint8-per-channel")
    p.add_argument("--name", help="model name in the manifest")
    p.add_argument("--bench", help="JSON written by bench/quantization.py --json, copied into the manifest")
    p.add_argument("--saved-model", help="also write the TensorFlow SavedModel (serving signatures) here")
    p.add_argument("--vgg", help="vgg_normalised.pth, for checkpoints with the vgg19-normalised encoder")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("convert-original", help="original release files -> our checkpoint")
    p.add_argument("--vgg", required=True)
    p.add_argument("--decoder", required=True)
    p.add_argument("--transform", required=True)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(run=cmd_convert_original)

    p = sub.add_parser("init", help="write the deterministic-init (untrained) vgg16 checkpoint")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--count", type=int, default=16, help="images of each kind for the encoder scales")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", default=str(INIT_WEIGHTS))
    p.set_defaults(run=cmd_init)

    for name in ("train", "evaluate", "background"):
        p = sub.add_parser(name, help=f"model/{name}.py (arguments passed through)", add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(run=_dispatch(name))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("train", "evaluate", "background"):   # everything after the command belongs to that module
        args = argparse.Namespace(run=_dispatch(argv[0]), rest=argv[1:])
    else:
        args = build_parser().parse_args(argv)
    from .images import ImageError
    from .weights import WeightsError

    try:
        args.run(args)
    except (UserError, ImageError, WeightsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
