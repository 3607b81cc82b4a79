"""What a matte is used for: cutouts, foreground colours and composites over a new background.

A pixel of a photo is I = αF + (1−α)B. Multiplying I by α (what a naive cutout does) keeps the old
background's colour in every soft pixel, so hair turns the colour of the wall behind it. The
foreground colours F are estimated instead, with pymatting's multilevel method
(``estimate_foreground_ml``; Germer et al., "Fast Multi-Level Foreground Estimation", ICPR 2020),
and the outputs are built from F:

* ``alpha``: α as 8-bit grey;
* ``rgba``: F with α as the alpha channel (a cutout; straight, not premultiplied, as PNG stores it);
* ``fg``: F alone, RGB;
* ``composite``: αF + (1−α)B' over a colour or an image B'.

pymatting compiles its kernels with numba on first use (about a minute once per environment,
cached after; :func:`foreground_compile_pending` says whether that is still to come): it is
imported only when an output needs foreground colours (``pip install 'trtmatte[cutout]'``).

A new background is given the same way everywhere (the CLI, ``Matter.cutout``, the video and
batch jobs): :func:`as_background` reads a colour name, ``#rrggbb``, ``r,g,b``, an (r, g, b)
tuple, an image path, a PIL image or an RGB array.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._lazy import require
from .errors import TrtmatteError

OUTPUT_TYPES = ("alpha", "rgba", "fg", "composite")


def _color(text: str) -> tuple[int, int, int] | None:
    """'#00ff00', '00ff00', '0,255,0' or a colour name ('green', as CSS names it) -> (r, g, b), or None."""
    value = text.strip().lower()
    try:
        if "," in value:
            rgb = tuple(int(v) for v in value.split(","))
        elif len(value.removeprefix("#")) == 6 and all(c in "0123456789abcdef" for c in value.removeprefix("#")):
            value = value.removeprefix("#")
            rgb = tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))
        else:
            from PIL import ImageColor

            rgb = ImageColor.getrgb(value)[:3] if value and not value.startswith("#") else ()
    except ValueError:
        return None
    if len(rgb) != 3 or any(not 0 <= v <= 255 for v in rgb):
        return None
    return rgb  # type: ignore[return-value]


def parse_color(text: str, what: str = "--bg-color") -> tuple[int, int, int]:
    """'#00ff00', '00ff00', '0,255,0' or 'green' -> (r, g, b) in 0..255; one line naming ``what`` if not."""
    rgb = _color(text)
    if rgb is None:
        raise TrtmatteError(f"{what} must be #RRGGBB, R,G,B (0-255) or a colour name like green, got {text!r}")
    return rgb


def foreground_compile_pending() -> bool:
    """Whether pymatting is installed but its foreground kernel has no numba cache yet: the first
    cutout or composite then compiles it (about a minute, once per environment)."""
    spec = importlib.util.find_spec("pymatting")
    if spec is None or not spec.submodule_search_locations:
        return False
    pattern = "estimate_foreground_ml._estimate_fb_ml*.nbi"
    folders = [Path(next(iter(spec.submodule_search_locations))) / "foreground" / "__pycache__"]
    if os.environ.get("NUMBA_CACHE_DIR"):
        folders.append(Path(os.environ["NUMBA_CACHE_DIR"]))
    return not any(any(folder.rglob(pattern)) for folder in folders if folder.is_dir())


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours F, float32 [H, W, 3] in [0, 1], of a uint8 RGB ``image`` given float
    ``alpha`` [H, W] in [0, 1] (pymatting's multilevel estimate)."""
    foreground = require("pymatting", "cutouts and composites (foreground colour estimation)")
    image_f = image.astype(np.float64) / 255.0
    alpha_f = np.clip(alpha.astype(np.float64), 0.0, 1.0)
    h, w = alpha_f.shape
    if h < 2 and w < 2:  # pymatting's level count is log2(longest side): a 1x1 image divides by zero
        image_f, alpha_f = np.pad(image_f, ((0, 1), (0, 1), (0, 0)), mode="edge"), np.pad(alpha_f, ((0, 1), (0, 1)), mode="edge")
    fg = foreground.estimate_foreground_ml(image_f, alpha_f)[:h, :w]
    return np.clip(fg, 0.0, 1.0).astype(np.float32)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 0..255, rounded half to even like NumPy (and the exported graph)."""
    return np.clip(np.rint(np.asarray(x, np.float32) * 255.0), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Background:
    """A composite's new background: a colour, or an image resized to each photo."""

    color: tuple[int, int, int] | None = (255, 255, 255)
    image: np.ndarray | None = None  # uint8 RGB

    def at(self, height: int, width: int) -> np.ndarray:
        """float32 [H, W, 3] in [0, 1]."""
        if self.image is None:
            return np.broadcast_to(np.asarray(self.color, np.float32) / 255.0, (height, width, 3))
        from PIL import Image

        resized = self.image if self.image.shape[:2] == (height, width) else \
            np.asarray(Image.fromarray(self.image).resize((width, height), Image.BILINEAR))
        return resized.astype(np.float32) / 255.0


def as_background(value) -> "Background | None":
    """The one background parser: None (white where a composite needs one); a :class:`Background`;
    a colour: a name ('green'), '#rrggbb', 'r,g,b', an (r, g, b) tuple or a length-3 array; an
    image: a path (str or os.PathLike) to an image file, a PIL image, or a uint8 [H, W, 3] (or
    [H, W] grey, [H, W, 4] RGBA) array. Anything else is one line saying what is accepted."""
    if value is None or isinstance(value, Background):
        return value
    if isinstance(value, os.PathLike):
        from .media.image import read_rgb

        return Background(color=None, image=read_rgb(value))
    if isinstance(value, str):
        rgb = _color(value)
        if rgb is not None:
            return Background(rgb)
        if Path(value).is_file():
            from .media.image import read_rgb

            return Background(color=None, image=read_rgb(value))
        raise TrtmatteError(f"background {value!r} is neither a colour (a name, #rrggbb or r,g,b) nor an image file")
    if hasattr(value, "convert") and hasattr(value, "mode"):  # a PIL image
        return Background(color=None, image=np.array(value.convert("RGB"), dtype=np.uint8))
    array = np.asarray(value)
    if array.ndim == 1 and array.size == 3 and np.issubdtype(array.dtype, np.number) and \
            ((array >= 0) & (array <= 255)).all() and (array == np.round(array)).all():
        return Background(tuple(int(v) for v in array))  # type: ignore[arg-type]
    if array.dtype == np.uint8 and (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        image = np.repeat(array[..., None], 3, axis=-1) if array.ndim == 2 else array[..., :3]
        return Background(color=None, image=np.ascontiguousarray(image))
    raise TrtmatteError(f"background must be a colour (a name, '#rrggbb', 'r,g,b', an (r, g, b) tuple of 0-255) or "
                        f"an image (a path, a PIL image, a uint8 [H, W, 3] array), got {type(value).__name__} "
                        f"{list(array.shape) if array.ndim else value!r}")


def render(output_type: str, image: np.ndarray, alpha: np.ndarray, background: Background | None = None,
           foreground: np.ndarray | None = None) -> np.ndarray:
    """The uint8 picture of ``output_type`` for one image: [H, W] for alpha, [H, W, 4] for rgba,
    [H, W, 3] for fg and composite. ``foreground`` (from :func:`estimate_foreground`) is computed
    here when needed and not given."""
    if output_type not in OUTPUT_TYPES:
        raise TrtmatteError(f"unknown output type {output_type!r}: choose one of {', '.join(OUTPUT_TYPES)}")
    if image.shape[:2] != alpha.shape:
        raise TrtmatteError(f"alpha {list(alpha.shape)} does not match the image {list(image.shape[:2])}")
    if output_type == "alpha":
        return to_uint8(alpha)
    fg = estimate_foreground(image, alpha) if foreground is None else foreground
    if output_type == "fg":
        return to_uint8(fg)
    if output_type == "rgba":
        return np.concatenate([to_uint8(fg), to_uint8(alpha)[..., None]], axis=-1)
    a = np.asarray(alpha, np.float32)[..., None]
    bg = (background or Background()).at(*alpha.shape)
    return to_uint8(a * fg + (1.0 - a) * bg)
