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
    assert "UNTRAINED" in result.stderr                 # the shipped weights say what they are
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


def test_train_and_evaluate_are_dispatched():
    result = run("train", "--help")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_cli_quantize_choices_match_the_exporter():
    from model import cli, export

    assert set(cli.QUANTIZE_CHOICES) == {q for q in export.QUANTIZATIONS if q}
