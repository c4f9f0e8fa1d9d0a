"""Image sizes for width/height attributes."""
import pytest

from site_builder.images import ImageError, image_size
from tests.site.helpers import png


def test_raster_size(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png(123, 45))
    assert image_size(path) == (123, 45)
    path.write_bytes(png(10, 20))  # a changed file is measured again
    assert image_size(path) == (10, 20)


@pytest.mark.parametrize("svg, size", [
    ('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="150"/>', (300, 150)),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="300px" height="150px"/>', (300, 150)),
    ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 940 580"/>', (940, 580)),
    ('<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0,0,80,40"/>', (80, 40)),
])
def test_svg_size(tmp_path, svg, size):
    path = tmp_path / "a.svg"
    path.write_text(svg)
    assert image_size(path) == size


def test_unreadable_images(tmp_path):
    bad = tmp_path / "b.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError):
        image_size(bad)
    svg = tmp_path / "c.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    with pytest.raises(ImageError, match="neither pixel width/height nor a viewBox"):
        image_size(svg)
