"""Image decoding for the CLI and for training: every Pillow mode becomes the right RGB (16-bit data scaled,
transparency on white), and large images are reduced while they are decoded, not after."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from model.data import random_crop
from model.images import IMAGE_SUFFIXES, image_size, read_image


def gradient16(height: int = 64, width: int = 96) -> np.ndarray:
    return np.linspace(0, 65535, height * width).reshape(height, width).astype(np.uint16)


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    grey = gradient16()
    Image.fromarray(grey).save(tmp_path / "g16.png")
    with Image.open(tmp_path / "g16.png") as im:
        assert im.mode == "I;16"                                   # what Pillow opens a 16-bit grey PNG as
    rgb = read_image(tmp_path / "g16.png")
    assert rgb.shape == (64, 96, 3)
    expected = grey.astype(np.float32) / 65535.0
    for c in range(3):
        assert np.abs(rgb[..., c] - expected).max() <= 0.5 / 255 + 1e-6
    # training reads images through the same conversion
    crop = random_crop(tmp_path / "g16.png", 64, 0.0, 0.0, flip=False).permute(1, 2, 0).numpy()
    assert 0.3 < crop.mean() < 0.7                                  # not a white image


def test_32_bit_integer_grayscale_holding_16_bit_data_is_scaled(tmp_path):
    Image.fromarray(gradient16().astype(np.int32), "I").save(tmp_path / "g32.tif")
    rgb = read_image(tmp_path / "g32.tif")
    assert abs(float(rgb.mean()) - 0.5) < 0.01 and rgb.max() == 1.0 and rgb.min() == 0.0


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_transparent_pixels_are_white(tmp_path, mode):
    rgba = np.zeros((40, 48, 4), np.uint8)
    rgba[:20, :, :3] = (200, 40, 10)
    rgba[:20, :, 3] = 255                                         # top half opaque, bottom half transparent black
    rgba[20:, :24, 3] = 128                                       # ... its left quarter half-transparent black
    image = Image.fromarray(rgba, "RGBA")
    if mode == "LA":
        image = image.convert("LA")
    elif mode == "P":   # a palette with one fully transparent entry (GIF/PNG style); no half transparency
        rgba[20:, :24, 3] = 0
        image = Image.fromarray(rgba, "RGBA").quantize(colors=4)
        image.info["transparency"] = image.getpixel((47, 39))
    path = tmp_path / f"t-{mode}.png"
    image.save(path, transparency=image.info["transparency"]) if mode == "P" else image.save(path)
    rgb = read_image(path)
    assert np.allclose(rgb[30, 40], 1.0)                          # transparent: white, not black
    top = np.asarray(Image.fromarray(rgba[:20, :, :3]).convert("L" if mode == "LA" else "RGB").convert("RGB"))
    assert np.abs(rgb[5, 5] * 255 - top[5, 5]).max() <= 1         # opaque pixels keep their colour
    if mode != "P":
        assert np.allclose(rgb[30, 5], 127.5 / 255, atol=1.5 / 255)   # half over white: half grey


@pytest.mark.parametrize("mode", ["L", "1", "CMYK", "RGB", "P", "LAB"])
def test_other_modes_convert_as_pillow_does(tmp_path, mode):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8))
    image = base.quantize(16) if mode == "P" else base.convert(mode)
    path = tmp_path / ("x.tif" if mode in ("CMYK", "LAB") else "x.png")
    image.save(path)
    with Image.open(path) as im:
        expected = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    assert np.array_equal(read_image(path), expected)


def test_large_images_are_reduced_while_decoding(tmp_path):
    y, x = np.mgrid[0:3000, 0:4000]
    big = Image.fromarray(np.stack([x * 255 // 4000, y * 255 // 3000, (x + y) % 256], -1).astype(np.uint8))
    big.save(tmp_path / "big.jpg", quality=90)
    big.save(tmp_path / "big.png")
    assert image_size(tmp_path / "big.jpg") == (4000, 3000)
    jpeg = read_image(tmp_path / "big.jpg", long_side=512)
    assert jpeg.shape == (750, 1000, 3)                           # JPEG decoded at 1/4 scale: still >= 512
    png = read_image(tmp_path / "big.png", long_side=512)
    assert png.shape == (429, 572, 3)                             # decoded, then reduced 7x in 8 bits
    assert read_image(tmp_path / "big.png", long_side=3000).shape == (3000, 4000, 3)   # not 2x larger: as is
    # the reduced image is the same picture
    full = read_image(tmp_path / "big.png")
    assert abs(float(png.mean()) - float(full.mean())) < 0.01


def test_exif_rotation_swaps_the_reported_size(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6                                              # rotate 90 degrees
    Image.new("RGB", (120, 60), (10, 20, 30)).save(tmp_path / "r.jpg", exif=exif)
    assert image_size(tmp_path / "r.jpg") == (60, 120)
    assert read_image(tmp_path / "r.jpg").shape == (120, 60, 3)


def test_one_list_of_image_suffixes():
    from model import cli, data

    assert not hasattr(cli, "IMAGE_SUFFIXES") and data.IMAGE_SUFFIXES is IMAGE_SUFFIXES
    assert {".jpg", ".png", ".tif", ".gif", ".webp"} <= set(IMAGE_SUFFIXES)
