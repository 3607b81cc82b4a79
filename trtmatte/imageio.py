"""Reading photos and writing mattes, with one-line errors and atomic writes.

Photos are decoded the way a viewer shows them: the EXIF orientation is applied (a portrait photo
from a phone is stored sideways with a rotate tag; its α must match the upright picture), 16-bit
images are scaled to 8 bits (not clipped), grey, palette, CMYK and RGBA images become RGB (alpha
dropped, as the authors read). The pixel count is checked from the header before anything is
decoded, so a decompression bomb costs nothing.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import TrtmatteError
from .fileio import atomic_output

# 100 megapixels: a 10,000 x 10,000 photo; the network's working size is capped at 800 anyway,
# and decoding such an image already takes 300 MB of RGB.
DEFAULT_MAX_PIXELS = 100_000_000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pnm")


class ImageError(TrtmatteError):
    """An input image cannot be used (missing, unreadable, too large, ...)."""


def _to_rgb(im) -> np.ndarray:
    """A decoded PIL image as uint8 [H, W, 3] RGB."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
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


def read_rgb(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """uint8 [H, W, 3] RGB as a viewer displays the file (EXIF orientation applied)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"image {path} not found")
    if path.stat().st_size == 0:
        raise ImageError(f"cannot read image {path}: the file is empty")
    # Pillow's own bomb check (a warning past MAX_IMAGE_PIXELS, an error past twice that, at a fixed
    # 89 MP) gives way to ours, checked from the header before decoding, configurable, and naming
    # the option that raises it.
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as im:
            width, height = im.size
            if max_pixels and width * height > max_pixels:
                raise ImageError(f"image {path} is {width}x{height} = {width * height / 1e6:.0f} megapixels, over the "
                                 f"limit of {max_pixels / 1e6:.0f} (raise it with --max-pixels, or downscale the image)")
            im.load()
            upright = ImageOps.exif_transpose(im)
            return _to_rgb(upright)
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read image {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__} "
                         "(is it a complete PNG/JPEG/...?)") from None


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


def write_alpha(path: str | os.PathLike, alpha: np.ndarray) -> Path:
    """Save float alpha in [0, 1] as an 8-bit greyscale image (format from the suffix)."""
    a8 = np.clip(np.rint(np.asarray(alpha, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    return write_image(path, a8)
