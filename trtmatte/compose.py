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

pymatting compiles its kernels with numba on first import (tens of seconds once per environment,
cached after): it is imported only when an output needs foreground colours
(``pip install 'trtmatte[cutout]'``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._lazy import require
from .errors import TrtmatteError

OUTPUT_TYPES = ("alpha", "rgba", "fg", "composite")


def parse_color(text: str) -> tuple[int, int, int]:
    """'#00ff00', '00ff00' or '0,255,0' -> (r, g, b) in 0..255."""
    value = text.strip().lower()
    try:
        if "," in value:
            rgb = tuple(int(v) for v in value.split(","))
        else:
            value = value.removeprefix("#")
            if len(value) != 6:
                raise ValueError
            rgb = tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        raise TrtmatteError(f"--bg-color must be #RRGGBB or R,G,B (0-255), got {text!r}") from None
    if len(rgb) != 3 or any(not 0 <= v <= 255 for v in rgb):
        raise TrtmatteError(f"--bg-color must be #RRGGBB or R,G,B (0-255), got {text!r}")
    return rgb  # type: ignore[return-value]


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours F, float32 [H, W, 3] in [0, 1], of a uint8 RGB ``image`` given float
    ``alpha`` [H, W] in [0, 1] (pymatting's multilevel estimate)."""
    foreground = require("pymatting", "cutouts and composites (foreground colour estimation)")
    image_f = image.astype(np.float64) / 255.0
    fg = foreground.estimate_foreground_ml(image_f, np.clip(alpha.astype(np.float64), 0.0, 1.0))
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
