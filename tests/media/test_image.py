"""Decoding photos (and trimaps) the way viewers show them, and refusing what cannot be used in one line.
The strict ground-truth readers are tested with the evaluation (tests/evaluation/test_scoring.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from trtmatte.media.image import ImageError, read_rgb, read_trimap, write_image
from trtmatte.trimap import TrimapError


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    grey = (np.arange(40 * 30).reshape(30, 40) * 50).astype(np.uint16)  # up to 59,950
    Image.fromarray(grey).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I;16")
    rgb = read_rgb(tmp_path / "g16.png")
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb[..., 0], np.rint(grey / 257.0).astype(np.uint8))
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "1"])
def test_every_mode_becomes_the_rgb_pillow_shows(tmp_path, mode):
    rng = np.random.default_rng(3)
    base = Image.fromarray(rng.integers(0, 256, (21, 17, 3), dtype=np.uint8))
    im = base.convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    im.save(path)
    expected = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(read_rgb(path), expected)


def test_exif_orientation_is_applied(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255  # a white band on the left of the stored pixels
    stored = Image.fromarray(image)
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display", as phones write portrait photos
    stored.save(tmp_path / "portrait.jpg", exif=exif, quality=95)
    shown = read_rgb(tmp_path / "portrait.jpg")
    assert shown.shape == (40, 20, 3)  # upright, as a viewer shows it
    assert shown[:10, :, 0].mean() > 200 and shown[-10:, :, 0].mean() < 50  # the band is now on top


@pytest.mark.parametrize("shape", [(1, 1), (1, 500), (500, 1)])
def test_tiny_and_thin_images_decode(tmp_path, shape):
    Image.fromarray(np.full((*shape, 3), 7, np.uint8)).save(tmp_path / "t.png")
    assert read_rgb(tmp_path / "t.png").shape == (*shape, 3)


@pytest.mark.parametrize("case,expect", [
    ("missing", "image .*nope.png not found"),
    ("empty", "the file is empty"),
    ("truncated", "cannot read image .*truncated"),
    ("not_an_image", "cannot read image .*cannot identify image file"),
    ("bomb", "is 3000x3000 = 9 megapixels, over the limit of 4 .*--max-pixels"),
])
def test_bad_files_are_one_line_errors(tmp_path, case, expect):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good)
    path = {"missing": tmp_path / "nope.png", "empty": tmp_path / "empty.png",
            "truncated": tmp_path / "truncated.png", "not_an_image": tmp_path / "notes.png",
            "bomb": tmp_path / "bomb.png"}[case]
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(good.read_bytes()[:60])
    elif case == "not_an_image":
        path.write_text("shopping list\n")
    elif case == "bomb":
        Image.new("L", (3000, 3000)).save(path)  # 9 MP of zeros: a few kB of PNG
    with pytest.raises(ImageError, match=expect) as err:
        read_rgb(path, max_pixels=4_000_000)
    assert "\n" not in str(err.value)


def test_the_pixel_limit_can_be_lifted(tmp_path):
    Image.new("L", (3000, 3000)).save(tmp_path / "big.png")
    assert read_rgb(tmp_path / "big.png", max_pixels=None).shape == (3000, 3000, 3)


def test_write_image_is_atomic_and_checks_its_input(tmp_path):
    with pytest.raises(Exception, match="has no alpha channel"):
        write_image(tmp_path / "x.jpg", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(Exception, match="expected uint8"):
        write_image(tmp_path / "x.png", np.zeros((4, 4), np.float32))
    assert list(tmp_path.iterdir()) == []
    write_image(tmp_path / "x.png", np.full((4, 5, 4), 9, np.uint8))
    assert np.asarray(Image.open(tmp_path / "x.png")).shape == (4, 5, 4)


def test_read_trimap_grey_colour_16_bit_and_errors(tmp_path):
    t = np.array([[0, 128, 255], [10, 130, 250]], np.uint8)
    Image.fromarray(t).save(tmp_path / "t.png")
    assert np.array_equal(read_trimap(tmp_path / "t.png"), t)
    Image.fromarray(np.repeat(t[..., None], 3, -1)).save(tmp_path / "rgb.png")
    assert np.array_equal(read_trimap(tmp_path / "rgb.png"), t)
    Image.fromarray(t.astype(np.uint16) * 257).save(tmp_path / "t16.png")
    assert np.array_equal(read_trimap(tmp_path / "t16.png"), t)
    with pytest.raises(TrimapError, match="trimap .*missing.png not found"):
        read_trimap(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(TrimapError, match="cannot read trimap"):
        read_trimap(tmp_path / "bad.png")


def test_bytes_decode_like_files(tmp_path):
    """A pipe or an upload gives bytes: the same decoder, the same orientation and pixel limit."""
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10] = 255
    stored = Image.fromarray(image)
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(tmp_path / "portrait.jpg", exif=exif, quality=95)
    data = (tmp_path / "portrait.jpg").read_bytes()
    assert np.array_equal(read_rgb(data), read_rgb(tmp_path / "portrait.jpg"))
    with pytest.raises(ImageError, match="image <stdin> is 40x20 .*--max-pixels"):
        read_rgb(data, max_pixels=100, name="<stdin>")
    with pytest.raises(ImageError, match="cannot read image <stdin>: it is empty"):
        read_rgb(b"", name="<stdin>")
    with pytest.raises(ImageError, match="cannot read image <bytes>: .*cannot identify image file"):
        read_rgb(b"shopping list\n")
