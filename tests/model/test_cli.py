"""`python -m model` end to end: a real photo stylized with a real painting (from ../shared/data, read at test
time, never copied into the repo), the original-release conversion, and bad inputs that must fail with one
clear line, a non-zero exit and no traceback."""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from model import weights as W

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)


def fails_cleanly(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") or "\nerror: " in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


@pytest.fixture(scope="module")
def photo_and_painting():
    photos = sorted((DATA / "photos").glob("*.jpg"))
    paintings = sorted((DATA / "paintings").glob("*.jpg"))
    assert photos and paintings, f"the shared training images are missing under {DATA}"
    return photos[7], paintings[7]


def test_stylize_real_photo_with_real_painting(photo_and_painting, tmp_path):
    photo, painting = photo_and_painting
    out = tmp_path / "out.png"
    result = run("stylize", photo, painting, "-o", out, "--max-resolution", "96", "--iterations", "2",
                 "--alpha", "0.8")
    assert result.returncode == 0, result.stderr
    assert "UNTRAINED" not in result.stderr             # the default is the trained checkpoint the site serves
    with Image.open(photo) as src, Image.open(out) as dst:
        assert dst.size == src.size and dst.mode == "RGB"   # run at 96 px, mapped back to the photo's size
        pixels = np.asarray(dst, dtype=np.float32)
    assert pixels.std() > 5                               # an image, not a flat field


def test_several_styles_write_a_folder(photo_and_painting, tmp_path):
    photo, painting = photo_and_painting
    second = sorted((DATA / "paintings").glob("*.jpg"))[8]
    result = run("stylize", photo, painting, second, "-o", tmp_path / "outs", "--max-resolution", "64")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == sorted(
        f"{photo.stem}--{s.stem}.png" for s in (painting, second))


def test_convert_original_then_stylize(tmp_path, photo_and_painting):
    photo, painting = photo_and_painting
    gen = torch.Generator().manual_seed(0)
    files = {}
    for name, shapes in (("vgg_normalised", W.original_vgg_shapes()), ("decoder", W.decoder_shapes()),
                         ("transformer", W.transform_shapes())):
        files[name] = tmp_path / f"{name}.pth"
        torch.save({k: torch.randn(s, generator=gen) * 0.05 for k, s in shapes.items()}, files[name])
    ckpt = tmp_path / "original.safetensors"
    result = run("convert-original", "--vgg", files["vgg_normalised"], "--decoder", files["decoder"],
                 "--transform", files["transformer"], "-o", ckpt)
    assert result.returncode == 0, result.stderr
    model, meta = W.load_checkpoint(ckpt, vgg_path=files["vgg_normalised"])
    assert model.encoder_name == "vgg19-normalised" and meta["trained"] is True
    fails_cleanly(run("stylize", photo, painting, "-o", tmp_path / "x.png", "--weights", ckpt),
                  "needs the original vgg_normalised.pth")
    result = run("stylize", photo, painting, "-o", tmp_path / "y.png", "--weights", ckpt,
                 "--vgg", files["vgg_normalised"], "--max-resolution", "64")
    assert result.returncode == 0, result.stderr

    bad = tmp_path / "bad_decoder.pth"
    state = torch.load(files["decoder"])
    del state["28.bias"]
    torch.save(state, bad)
    fails_cleanly(run("convert-original", "--vgg", files["vgg_normalised"], "--decoder", bad,
                      "--transform", files["transformer"], "-o", tmp_path / "z.safetensors"),
                  "bad_decoder.pth", "missing key '28.bias'")


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height, with a tiny (invalid) data stream: nothing to decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
                     + chunk(b"IEND", b""))


def test_bad_inputs_fail_with_a_clear_message(photo_and_painting, tmp_path):
    photo, painting = photo_and_painting
    out = tmp_path / "out.png"
    fails_cleanly(run("stylize", tmp_path / "absent.jpg", painting, "-o", out), "absent.jpg", "no such file")

    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image")
    fails_cleanly(run("stylize", photo, text, "-o", out), "notes.jpg", "not an image format")

    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(tiny)
    fails_cleanly(run("stylize", tiny, painting, "-o", out), "tiny.png", "1x1 px is too small")

    huge = tmp_path / "huge.png"
    _png_header_only(huge, 20000, 20000)
    result = run("stylize", photo, huge, "-o", out)
    fails_cleanly(result, "huge.png", "20000x20000 px is too large", "not decoded")

    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(os.urandom(4096))
    fails_cleanly(run("stylize", photo, painting, "-o", out, "--weights", corrupt), "corrupt.safetensors")

    fails_cleanly(run("stylize", photo, painting, "-o", out, "--alpha", "1.5"), "--alpha must be in [0, 1]")
    assert not out.exists()


def test_output_is_checked_before_any_work(photo_and_painting, tmp_path):
    """A bad -o fails at once (exit 2, one error line, before the model is loaded: no weights note) and
    writes nothing; -o never overwrites an input."""
    photo, painting = photo_and_painting
    content = tmp_path / "content.jpg"
    content.write_bytes(photo.read_bytes())
    before = content.read_bytes()

    result = run("stylize", content, painting, "-o", tmp_path / "content.jpg" / "sub" / "out.png")
    fails_cleanly(result, "content.jpg is a file, not a folder")
    assert "UNTRAINED" not in result.stderr                       # refused before the weights were read
    fails_cleanly(run("stylize", content, painting, "-o", content), "would overwrite the input", "content.jpg")
    link = tmp_path / "link.jpg"
    link.symlink_to(content)
    fails_cleanly(run("stylize", content, painting, "-o", link), "would overwrite the input")
    fails_cleanly(run("stylize", content, painting, "-o", tmp_path / "out.xyz"), "no image format to write")
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "same.jpg").write_bytes(painting.read_bytes())
    fails_cleanly(run("stylize", content, tmp_path / "a" / "same.jpg", tmp_path / "b" / "same.jpg", "-o",
                      tmp_path / "outs"), "would both be written to")
    # a folder of outputs inside the content's folder must not replace an input either
    styles = tmp_path / "styles"
    styles.mkdir()
    (styles / "content--s.png").write_bytes(b"")
    (styles / "s.jpg").write_bytes(painting.read_bytes())
    fails_cleanly(run("stylize", content, styles / "s.jpg", styles / "content--s.png", "-o", styles),
                  "would overwrite the input")
    assert content.read_bytes() == before and not (tmp_path / "outs").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "content.jpg", "link.jpg", "styles"]

    # an existing folder given as -o for one pair takes the output under the usual name
    result = run("stylize", content, painting, "-o", tmp_path / "a", "--max-resolution", "64")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a" / f"content--{painting.stem}.png").is_file()


# VmHWM: the peak resident size of this process image (ru_maxrss would include the forking parent's)
PEAK = ("import sys; from pathlib import Path; from model.cli import main; rc = main(sys.argv[1:]); "
        "print([l for l in Path('/proc/self/status').read_text().splitlines() if l.startswith('VmHWM')][0], "
        "file=sys.stderr); sys.exit(rc)")


def peak_rss_mib(*args: str) -> float:
    result = subprocess.run([sys.executable, "-c", PEAK, *map(str, args)], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return int(result.stderr.rsplit("VmHWM:", 1)[1].split()[0]) / 1024


def test_large_inputs_are_decoded_one_at_a_time_and_reduced(photo_and_painting, tmp_path):
    """Four 24-megapixel styles (as float32, 290 MB each) with a small content: the run holds at most one
    reduced decode at a time, so its peak memory is that of the same run with one small style, give or take."""
    photo, painting = photo_and_painting
    y, x = np.mgrid[0:4000, 0:6000]
    big = np.stack([x * 255 // 6000, y * 255 // 4000, (x // 7 + y // 5) % 256], -1).astype(np.uint8)
    styles = []
    for i in range(4):
        styles.append(tmp_path / f"big{i}.jpg")
        Image.fromarray(np.roll(big, 500 * i, axis=1)).save(styles[-1], quality=85)
    small = tmp_path / "small.jpg"
    Image.fromarray(big[::50, ::50]).save(small)
    common = ("--max-resolution", "64")
    baseline = peak_rss_mib("stylize", photo, small, "-o", tmp_path / "one.png", *common)
    peak = peak_rss_mib("stylize", photo, *styles, "-o", tmp_path / "four", *common)
    print(f"peak RSS: {baseline:.0f} MiB with one small style, {peak:.0f} MiB with four 24 MP styles")
    assert peak - baseline < 100, (baseline, peak)
    assert len(list((tmp_path / "four").iterdir())) == 4


def test_train_and_evaluate_run_end_to_end(tmp_path):
    """`python -m model train` trains two steps at 32 px on a tiny dataset and writes a checkpoint that
    `python -m model evaluate` scores on the held-out pairs."""
    from model.data import CONTENT_DIR, STYLE_DIR, list_images

    data = tmp_path / "data"
    for kind in (CONTENT_DIR, STYLE_DIR):
        (data / kind).mkdir(parents=True)
        for p in list_images(DATA / kind, "train")[:3] + list_images(DATA / kind, "held-out")[:2]:
            (data / kind / p.name).write_bytes(p.read_bytes())
    run_dir = tmp_path / "run"
    result = run("train", "--data", data, "--run-dir", run_dir, "--encoder", "vgg16", "--max-steps", "2",
                 "--size", "32", "--scale-size", "32", "--batch-size", "1", "--log-every", "1", "--threads", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    weights = run_dir / "model.safetensors"
    model, meta = W.load_checkpoint(weights)
    assert model.encoder_name == "vgg16" and meta["step"] == 2 and meta["trained"] is True
    assert [r["step"] for r in __import__("csv").DictReader((run_dir / "train_log.csv").open())] == ["1", "2"]
    scores = tmp_path / "scores.json"
    result = run("evaluate", "--weights", weights, "--data", data, "--pairs", "2", "--size", "32", "--json", scores)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = __import__("json").loads(scores.read_text())["rows"]
    assert [r["step"] for r in rows] == [None, 2]                 # the identity baseline, then the checkpoint
    assert rows[1]["content"] > 0 and rows[1]["style"] > 0
    assert f"{rows[1]['content']:8.4f}" in result.stdout


def test_cli_quantize_choices_match_the_exporter():
    from model import cli, export

    assert set(cli.QUANTIZE_CHOICES) == {q for q in export.QUANTIZATIONS if q}


def test_untrained_weights_say_so(photo_and_painting, tmp_path):
    photo, painting = photo_and_painting
    result = run("stylize", photo, painting, "-o", tmp_path / "out.png", "--max-resolution", "64",
                 "--weights", ROOT / "model" / "checkpoints" / "sanet-vgg16-init.safetensors")
    assert result.returncode == 0 and "UNTRAINED" in result.stderr, result.stderr


def test_style_mixing_matches_the_pipeline(photo_and_painting, tmp_path):
    """--style2/--mix: mix * T(c, s1) + (1 - mix) * T(c, s2) before decoding, as pipeline.stylize computes it;
    mix 1 is the first style alone, mix 0 the second alone."""
    from model.images import read_image
    from model.pipeline import stylize
    from model.weights import load_checkpoint

    photo, painting = photo_and_painting
    painting2 = sorted((DATA / "paintings").glob("*.jpg"))[8]
    model, _ = load_checkpoint(ROOT / "model" / "checkpoints" / "shipped.safetensors")
    t = lambda p, side: torch.from_numpy(read_image(p, "x", long_side=side)).permute(2, 0, 1)[None]  # noqa: E731
    outs = {}
    for mix in ("0.3", "1", "0"):
        out = tmp_path / f"mix{mix}.png"
        result = run("stylize", photo, painting, "--style2", painting2, "--mix", mix, "-o", out,
                     "--max-resolution", "64")
        assert result.returncode == 0, result.stderr
        with Image.open(out) as im:
            outs[mix] = np.asarray(im, dtype=np.float32) / 255
    c, s1, s2 = t(photo, 64), t(painting, 64), t(painting2, 64)
    with Image.open(photo) as im:
        size = (im.height, im.width)
    expected = stylize(model, c, s1, max_resolution=64, output_size=size, style2=s2, mix=0.3)[0]
    assert np.abs(outs["0.3"] - expected.permute(1, 2, 0).numpy()).max() <= 1.5 / 255
    alone1 = stylize(model, c, s1, max_resolution=64, output_size=size)[0].permute(1, 2, 0).numpy()
    alone2 = stylize(model, c, s2, max_resolution=64, output_size=size)[0].permute(1, 2, 0).numpy()
    assert np.abs(outs["1"] - alone1).max() <= 1.5 / 255 and np.abs(outs["0"] - alone2).max() <= 1.5 / 255
    assert np.abs(outs["0.3"] - alone1).mean() > 0.01 and np.abs(outs["0.3"] - alone2).mean() > 0.01
    # and stylize_padded's mixing is the formula, by hand from the model's parts
    pad = lambda x: torch.nn.functional.interpolate(x, size=(64, 48), mode="bilinear")  # noqa: E731
    c, s1, s2 = pad(c), pad(s1), pad(s2)
    with torch.no_grad():
        f = model.encode_for_transform
        (c4, c5), (a4, a5), (b4, b5) = f(c), f(s1), f(s2)
        by_hand = model.decoder(0.3 * model.transform(c4, a4, c5, a5) + 0.7 * model.transform(c4, b4, c5, b5))
        assert torch.equal(model.stylize_padded(c, s1, style2=s2, mix=0.3), by_hand.clamp(0, 1))
    fails_cleanly(run("stylize", photo, painting, "--mix", "0.5", "-o", tmp_path / "x.png"), "--mix needs --style2")
    fails_cleanly(run("stylize", photo, painting, "--style2", painting2, "--mix", "1.5", "-o", tmp_path / "x.png"),
                  "--mix must be in [0, 1]")
