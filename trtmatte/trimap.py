"""Trimaps with NumPy only: their encoding, checking them against images, and making them (from a
ground-truth alpha, from a rough mask, or from Late Fusion's F and B).

Encoding (the ONNX contract's ``trimap`` input, docs/adamatting.md): uint8, 0 background, 128
unknown, 255 foreground. Other values are read by fixed thresholds, the same in NumPy and inside
the exported graph: below 85 background, above 170 foreground, anything else unknown. A JPEG'd or
resampled trimap therefore means what it looks like; nothing is refused for its values. Trimap
files are decoded by :func:`trtmatte.media.image.read_trimap` (lenient here, strict for evaluation).

Torch-free (the core install runs trimap models through onnxruntime); the in-graph versions of
these rules are in ``trtmatte.models.trimap_ops``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import TrtmatteError

BACKGROUND, UNKNOWN, FOREGROUND = 0, 128, 255
VALUES = (BACKGROUND, UNKNOWN, FOREGROUND)
# Thresholds of the encoding: value < LOW is background, value > HIGH foreground, else unknown.
LOW, HIGH = 85, 170


class TrimapError(TrtmatteError):
    """A trimap cannot be used with its image (missing, another size, not uint8, ...)."""


def snap(trimap: np.ndarray) -> np.ndarray:
    """uint8 trimap with every value read by the thresholds, so only 0, 128 and 255 are left."""
    t = np.asarray(trimap)
    out = np.full(t.shape, UNKNOWN, np.uint8)
    out[t < LOW] = BACKGROUND
    out[t > HIGH] = FOREGROUND
    return out


def check_trimap(trimap, images: np.ndarray, model: str = "this model") -> np.ndarray:
    """``trimap`` as uint8 [N, H, W] matching ``images`` ([N, H, W, 3]), or a one-line error."""
    if trimap is None:
        raise TrimapError(f"{model} needs a trimap (uint8 [N, H, W]: 0 background, 128 unknown, 255 foreground); "
                          "give one (CLI: --trimap PATH_OR_DIR, or --trimap auto to derive it with Late Fusion)")
    if not isinstance(trimap, np.ndarray) or trimap.dtype != np.uint8:
        raise TrimapError(f"the trimap must be a uint8 NumPy array (0 / 128 / 255), got "
                          f"{getattr(trimap, 'dtype', type(trimap).__name__)}")
    if trimap.ndim == 2:
        trimap = trimap[None]
    if trimap.ndim == 4 and trimap.shape[-1] == 1:
        trimap = trimap[..., 0]
    if trimap.ndim != 3:
        raise TrimapError(f"the trimap must be [H, W] or [N, H, W], got shape {list(trimap.shape)}")
    n, h, w = images.shape[:3]
    if trimap.shape[1:] != (h, w):
        raise TrimapError(f"the trimap is {trimap.shape[2]}x{trimap.shape[1]} but the image is {w}x{h}: "
                          "give the trimap made for this image, at its size")
    if trimap.shape[0] != n:
        raise TrimapError(f"{trimap.shape[0]} trimap(s) for {n} image(s): give one trimap per image")
    return np.ascontiguousarray(trimap)


def refuse_trimap(trimap, model: str = "this model") -> None:
    """One line for a trimap given to a trimap-free model."""
    if trimap is not None:
        raise TrimapError(f"{model} takes no trimap (it is trimap-free): drop the trimap (CLI: --trimap)")


# ---------------------------------------------------------------------------- making trimaps

def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of the last two axes by a (2 radius + 1)^2 square: a separable running max,
    the same as ``max_pool2d(kernel 2r+1, stride 1, padding r)`` in the exported graph."""
    out = np.asarray(mask, bool)
    if radius <= 0:
        return out.copy()
    for axis in (-2, -1):
        grown = out.copy()
        n = out.shape[axis]
        for shift in range(1, min(radius, n - 1) + 1):
            ahead = [slice(None)] * out.ndim
            behind = [slice(None)] * out.ndim
            ahead[axis], behind[axis] = slice(shift, None), slice(None, -shift)
            grown[tuple(behind)] |= out[tuple(ahead)]
            grown[tuple(ahead)] |= out[tuple(behind)]
        out = grown
    return out


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion by the same square: a pixel stays only if its whole neighbourhood is set."""
    return ~dilate(~np.asarray(mask, bool), radius)


def from_masks(foreground: np.ndarray, background: np.ndarray, band: int = 0) -> np.ndarray:
    """uint8 trimap: 255 where ``foreground``, 0 where ``background``, 128 elsewhere, with both
    known regions eroded by ``band`` px first: the unknown band grows by ``band`` px each way, and
    a foreground touching background directly gets a band of 2 ``band`` px between them."""
    fg, bg = erode(foreground, band), erode(background, band)
    out = np.full(fg.shape, UNKNOWN, np.uint8)
    out[bg] = BACKGROUND
    out[fg] = FOREGROUND
    return out


def from_alpha(alpha: np.ndarray, band: int = 10) -> np.ndarray:
    """The trimap Deep Image Matting trains and tests with: foreground where alpha is 1, background
    where it is 0, both eroded by ``band`` px, so the transition (0 < alpha < 1), or a hard edge,
    becomes an unknown band. ``alpha`` is float in [0, 1] or uint8 0..255, [H, W] or [N, H, W]."""
    a = np.asarray(alpha)
    top = 255 if a.dtype == np.uint8 else 1.0
    return from_masks(a >= top, a <= 0, band)


def from_rough_mask(image: np.ndarray, band: int = 8) -> np.ndarray:
    """A real-looking trimap for a photo without ground truth (parity checks, calibration,
    benchmarks): the luminance, blurred by 1/64 of the longer side, thresholded at its mean is the
    "object", and ``band`` px on either side of its outline are unknown. The boundary follows the
    picture's content, like a user's rough stroke."""
    from PIL import Image, ImageFilter

    image = np.asarray(image, np.uint8)
    radius = max(2.0, max(image.shape[:2]) / 64)
    grey = np.asarray(Image.fromarray(image).convert("L").filter(ImageFilter.GaussianBlur(radius)), np.float32)
    mask = grey > grey.mean()
    return from_masks(mask, ~mask, band)


@dataclass(frozen=True)
class AutoTrimapOptions:
    """How a trimap is derived from Late Fusion's foreground and background probabilities F and B
    (docs/adamatting.md): foreground where F > confidence and B < 1 - confidence, background where
    B > confidence and F < 1 - confidence, unknown elsewhere (including where the two decoders
    disagree); then both known regions are eroded by ``dilation`` px at the image's size, which
    widens the unknown band by that much each way."""

    confidence: float = 0.95
    dilation: int = 10

    def check(self) -> None:
        if not 0.5 < self.confidence < 1.0:
            raise TrtmatteError(f"the auto-trimap confidence must be in (0.5, 1), got {self.confidence}")
        if not 0 <= self.dilation <= 255:
            raise TrtmatteError(f"the auto-trimap dilation must be 0..255 px, got {self.dilation}")


def auto_trimap(fg: np.ndarray, bg: np.ndarray, options: AutoTrimapOptions = AutoTrimapOptions()) -> np.ndarray:
    """uint8 trimap from F and B probabilities ([H, W] or [N, H, W], at the image's size)."""
    options.check()
    fg, bg = np.asarray(fg, np.float32), np.asarray(bg, np.float32)
    # float32 thresholds computed as in the graph: the constants are float32(c) and float32(1 - c)
    c, lo = np.float32(options.confidence), np.float32(1.0 - options.confidence)
    return from_masks((fg > c) & (bg < lo), (bg > c) & (fg < lo), options.dilation)


def resize_probability(prob: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 [h, w] map resized to [height, width] with the pipeline's filter (antialiased
    bilinear, which Pillow's BILINEAR is for float images)."""
    from PIL import Image

    prob = np.asarray(prob, np.float32)
    if prob.shape == (height, width):
        return prob
    return np.asarray(Image.fromarray(prob).resize((width, height), Image.BILINEAR), np.float32)
