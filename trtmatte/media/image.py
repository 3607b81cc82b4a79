"""The one image decoder: photos, ground-truth alphas and trimaps, from a path or from bytes, with
one-line errors; and atomic image writes.

Every image is decoded the way a viewer shows it: the EXIF orientation is applied (a portrait photo
from a phone is stored sideways with a rotate tag; its α and trimap must match the upright
picture), 16-bit images are scaled to 8 bits (not clipped). The pixel count is checked once, here,
from the header before anything is decoded, so a decompression bomb costs nothing; Pillow's own
bomb check (a fixed 89 MP, not configurable) gives way to it.

What each reader makes of the pixels:

* :func:`read_rgb`: uint8 [H, W, 3]; grey, palette, CMYK and RGBA become RGB (alpha dropped, as
  the authors read).
* :func:`read_alpha`: float64 [H, W] in [0, 1]: ground truth (`trtmatte eval`), strict about colour.
* :func:`read_trimap`: uint8 [H, W]. By default values are kept as stored (a JPEG'd trimap means
  what it looks like: trtmatte/trimap.py's thresholds read it; colour files give their luminance);
  ``strict=True`` is the evaluation's reader, where only 0 / 128 / 255 are accepted since
  ``== 128`` is the scored region.

A source is a path or the encoded file's bytes (a pipe, an upload); ``name`` labels bytes in errors.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Iterator, Union

import numpy as np

from ..errors import TrtmatteError
from ..fileio import atomic_output

# 100 megapixels: a 10,000 x 10,000 photo; the network's working size is capped at 800 anyway,
# and decoding such an image already takes 300 MB of RGB.
DEFAULT_MAX_PIXELS = 100_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pnm")
TRIMAP_VALUES = (0, 128, 255)
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")

Source = Union[str, os.PathLike, bytes, bytearray, memoryview]


class ImageError(TrtmatteError):
    """An input image cannot be used (missing, unreadable, too large, ...)."""


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _label(source: Source, name: str | None) -> str:
    if name is not None:
        return name
    return "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else str(Path(source))


def open_image(source: Source, what: str = "image", max_pixels: int | None = DEFAULT_MAX_PIXELS, *,
               name: str | None = None, error: type[TrtmatteError] = ImageError):
    """The PIL image (lazy: header only) within the pixel limit, or a one-line ``error``.
    The caller closes it (``with open_image(...) as im``)."""
    from PIL import Image, UnidentifiedImageError

    label = _label(source, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise error(f"cannot read {what} {label}: it is empty")
        fp = io.BytesIO(bytes(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise error(f"{what} {label} not found")
        if path.stat().st_size == 0:
            raise error(f"cannot read {what} {label}: the file is empty")
        fp = path
    Image.MAX_IMAGE_PIXELS = None  # our check below is configurable and names the option that raises it
    try:
        im = Image.open(fp)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise error(f"cannot read {what} {label}: {_first_line(exc)} (is it a complete PNG/JPEG/...?)") from None
    width, height = im.size
    if max_pixels and width * height > max_pixels:
        im.close()
        raise error(f"{what} {label} is {width}x{height} = {width * height / 1e6:.0f} megapixels, over the limit "
                    f"of {max_pixels / 1e6:.0f} megapixels, too large to decode safely (raise it with --max-pixels, "
                    "or downscale it)")
    return im


@contextlib.contextmanager
def decoded(source: Source, what: str = "image", max_pixels: int | None = DEFAULT_MAX_PIXELS, *,
            name: str | None = None, error: type[TrtmatteError] = ImageError) -> Iterator:
    """The decoded, upright PIL image; a decoding failure inside the block is a one-line ``error``."""
    from PIL import ImageOps

    label = _label(source, name)
    with open_image(source, what, max_pixels, name=name, error=error) as im:
        try:
            im.load()
            upright = ImageOps.exif_transpose(im)
        except (OSError, ValueError, SyntaxError) as exc:
            raise error(f"cannot read {what} {label}: {_first_line(exc)} (is it a complete PNG/JPEG/...?)") from None
        yield upright


def _exif_rotated(im) -> bool:
    """Whether the EXIF orientation swaps width and height (5..8: transposed or rotated 90)."""
    try:
        return im.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # a broken EXIF block: decoding decides, the size check repeats after decoding
        return False


def upright_size(source: Source, what: str = "image", max_pixels: int | None = DEFAULT_MAX_PIXELS, *,
                 name: str | None = None) -> tuple[int, int]:
    """(width, height) as a viewer shows the file (EXIF rotation applied), from the header only."""
    with open_image(source, what, max_pixels, name=name) as im:
        width, height = im.size
        return (height, width) if _exif_rotated(im) else (width, height)


def header(source: Source, what: str = "image", max_pixels: int | None = DEFAULT_MAX_PIXELS, *,
           name: str | None = None) -> tuple[tuple[int, int], str]:
    """((width, height) upright, PIL mode) from the header, without decoding the pixels."""
    with open_image(source, what, max_pixels, name=name) as im:
        width, height = im.size
        return ((height, width) if _exif_rotated(im) else (width, height)), im.mode


# ----------------------------------------------------------------------------- photos

def rgb_pixels(im) -> np.ndarray:
    """A decoded PIL image as uint8 [H, W, 3] RGB (no orientation applied: see :func:`upright_rgb`)."""
    mode = im.mode
    if mode in _SIXTEEN_BIT:
        # 16-bit grey (PNG, TIFF): scale to 8 bits; convert("RGB") would clip everything above 255.
        grey = np.asarray(im, dtype=np.float64)
        grey = np.rint(np.clip(grey, 0, 65535) / 257.0).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if mode == "F":
        grey = np.asarray(im, dtype=np.float64)
        scale = 255.0 if np.nanmax(grey, initial=0.0) <= 1.0 else 1.0
        grey = np.rint(np.clip(np.nan_to_num(grey) * scale, 0, 255)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")  # palette transparency: through RGBA so Pillow does not warn
    return np.array(im.convert("RGB"), dtype=np.uint8)  # writable copy


def upright_rgb(im) -> np.ndarray:
    """uint8 [H, W, 3] of a PIL image a caller already holds, upright (EXIF orientation applied)."""
    from PIL import ImageOps

    return rgb_pixels(ImageOps.exif_transpose(im))


def read_rgb(source: Source, max_pixels: int | None = DEFAULT_MAX_PIXELS, *, name: str | None = None) -> np.ndarray:
    """uint8 [H, W, 3] RGB as a viewer displays the file (EXIF orientation applied)."""
    with decoded(source, "image", max_pixels, name=name) as im:
        return rgb_pixels(im)


def read_pixels(source: Source, mode: str, what: str = "image", max_pixels: int | None = DEFAULT_MAX_PIXELS, *,
                name: str | None = None) -> np.ndarray:
    """uint8 pixels converted to a Pillow ``mode`` ("RGB", "RGBA", "L"), upright: training data."""
    with decoded(source, what, max_pixels, name=name) as im:
        return np.array(im.convert(mode), dtype=np.uint8)


# ----------------------------------------------------------------------------- ground truth

def _grey(im, label: str, what: str) -> np.ndarray:
    """The grey channel of a decoded ground-truth image as float64 in [0, 1]."""
    mode = im.mode
    if mode == "1":
        return np.asarray(im, dtype=np.float64)
    if mode == "L":
        return np.asarray(im, dtype=np.float64) / 255.0
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(im, dtype=np.float64)
        if values.min() < 0 or values.max() > 65535:
            raise ImageError(f"{what} {label} is a {mode} image with values outside 0..65535: save it as 8- or "
                             "16-bit grey")
        return values / 65535.0
    if mode == "F":
        values = np.asarray(im, dtype=np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise ImageError(f"{what} {label} is a float image with values outside [0, 1]: save it as 8- or 16-bit "
                             "grey")
        return values
    if mode == "P":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La", "RGBA", "RGBa", "PA"):
        im = im.convert("RGBA" if mode != "LA" else "LA")
        bands = np.asarray(im)
        transparency = bands[..., -1]
        if (transparency < 255).any():  # a cut-out: the ground truth is its transparency
            return transparency.astype(np.float64) / 255.0
        bands = bands[..., :-1]
    else:
        bands = np.asarray(im.convert("RGB"))  # RGB, CMYK, YCbCr, ...
        if bands.ndim == 2:
            bands = bands[..., None]
    if bands.shape[-1] > 1 and not (bands == bands[..., :1]).all():
        raise ImageError(f"{what} {label} is a colour image ({im.mode} with different channels): ground truth must "
                         "be greyscale (is this the images folder?)")
    return bands[..., 0].astype(np.float64) / 255.0


def read_alpha(source: Source, max_pixels: int | None = DEFAULT_MAX_PIXELS, *, name: str | None = None) -> np.ndarray:
    """Ground-truth alpha as float64 [H, W] in [0, 1]: 8-bit grey / 255, 16-bit grey / 65535; a grey
    image saved as RGB is read from one channel; an image with a transparency channel that is not
    fully opaque (a cut-out) gives that channel. Upright (EXIF rotation applied, as photos are read)."""
    with decoded(source, "alpha", max_pixels, name=name) as im:
        return _grey(im, _label(source, name), "alpha")


# ----------------------------------------------------------------------------- trimaps

def trimap_pixels(im) -> np.ndarray:
    """uint8 [H, W] of a decoded trimap image as stored: 16-bit scaled to 8 bits, colour as luminance."""
    if im.mode in _SIXTEEN_BIT:
        return np.rint(np.clip(np.asarray(im, np.float64), 0, 65535) / 257.0).astype(np.uint8)
    return np.array(im.convert("L"), dtype=np.uint8)


def upright_trimap(im) -> np.ndarray:
    """uint8 [H, W] of a trimap PIL image a caller already holds, upright (as :func:`upright_rgb`)."""
    from PIL import ImageOps

    return trimap_pixels(ImageOps.exif_transpose(im))


def read_trimap(source: Source, max_pixels: int | None = None, *, strict: bool = False,
                name: str | None = None) -> np.ndarray:
    """Trimap as uint8 [H, W], upright. Lenient (default, what steers a model): values as stored,
    for the thresholds of trtmatte/trimap.py to read. ``strict`` (what defines a scored region):
    ground-truth rules (a colour file is an error) and only 0 / 128 / 255, anything else -- a
    JPEG-saved or resized trimap -- is an error naming the values, since the unknown region is
    exactly ``== 128`` (as DIM's evaluation). No pixel limit unless ``max_pixels`` is given."""
    from ..trimap import TrimapError

    label = _label(source, name)
    if not strict:
        with decoded(source, "trimap", max_pixels, name=name, error=TrimapError) as im:
            return trimap_pixels(im)
    with decoded(source, "trimap", max_pixels, name=name) as im:
        trimap = np.rint(_grey(im, label, "trimap") * 255.0).astype(np.uint8)
    other = ~np.isin(trimap, TRIMAP_VALUES)
    if other.any():
        values, counts = np.unique(trimap[other], return_counts=True)
        worst = np.argsort(-counts)[:3]
        sample = ", ".join(f"{values[i]} ({counts[i]} px)" for i in worst)
        raise ImageError(f"trimap {label} has values other than 0/128/255: {sample}; the unknown region must be "
                         "exactly 128 (was it saved as JPEG or resized with interpolation?)")
    return trimap


# ----------------------------------------------------------------------------- writing

def _format_for(path: Path) -> str:
    from PIL import Image

    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise TrtmatteError(f"cannot write {path}: unknown image suffix {path.suffix!r} (use .png)")
    return fmt


def write_image(path: str | os.PathLike, pixels: np.ndarray) -> Path:
    """Save uint8 [H, W] (grey), [H, W, 3] (RGB) or [H, W, 4] (RGBA) atomically; format from the suffix."""
    from PIL import Image

    path = Path(path)
    fmt = _format_for(path)
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise TrtmatteError(f"cannot write {path}: expected uint8 [H, W], [H, W, 3] or [H, W, 4], "
                            f"got {pixels.dtype} {list(pixels.shape)}")
    if pixels.ndim == 3 and pixels.shape[2] == 4 and fmt in ("JPEG", "BMP"):
        raise TrtmatteError(f"cannot write {path}: {fmt} has no alpha channel (use .png or .webp)")
    with atomic_output(path) as tmp:
        Image.fromarray(pixels).save(tmp, format=fmt)
    return path


def encode_image(pixels: np.ndarray, fmt: str = "PNG") -> bytes:
    """The bytes :func:`write_image` would write for ``pixels`` in ``fmt`` (a pipe's output:
    ``trtmatte matte - -o -`` gives the same bytes as ``-o a.png``)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels)).save(buffer, format=fmt)
    return buffer.getvalue()


def write_alpha(path: str | os.PathLike, alpha: np.ndarray) -> Path:
    """Save float alpha in [0, 1] as an 8-bit greyscale image (format from the suffix)."""
    a8 = np.clip(np.rint(np.asarray(alpha, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    return write_image(path, a8)
