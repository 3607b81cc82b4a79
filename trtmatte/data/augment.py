"""Geometric augmentation of a foreground/alpha pair and of the composite, as in Deep Image
Matting's data preparation (and the Late Fusion paper's): random flip, rotation of a few degrees,
crops centred on transition pixels, and a cap on the longer side. OpenCV does the resampling."""
from __future__ import annotations

import numpy as np

from .composite import transition_mask


def flip(fg: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(fg[:, ::-1]), np.ascontiguousarray(alpha[:, ::-1])


def rotate(fg: np.ndarray, alpha: np.ndarray, degrees: float,
           replicate_alpha: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rotate about the centre, keeping the size. Alpha outside the rotated foreground is 0
    (nothing of the foreground is there), and the colour is replicated so that the border's
    bilinear taps do not pull black into the foreground's edge colours. For an already
    composited image (training on a composite set) ``replicate_alpha`` replicates alpha too, so
    the corners stay a consistent image/alpha pair."""
    import cv2

    if degrees == 0:
        return fg, alpha
    h, w = alpha.shape
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    fg_r = cv2.warpAffine(fg, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha_border = cv2.BORDER_REPLICATE if replicate_alpha else cv2.BORDER_CONSTANT
    alpha_r = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=alpha_border, borderValue=0)
    return fg_r, alpha_r


def cover(bg: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale ``bg`` up (never down past the target) so it covers height x width, then centre-crop it."""
    import cv2

    bh, bw = bg.shape[:2]
    scale = max(height / bh, width / bw)
    if scale != 1.0:
        size = (max(width, round(bw * scale)), max(height, round(bh * scale)))
        bg = cv2.resize(bg, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        bh, bw = bg.shape[:2]
    top, left = (bh - height) // 2, (bw - width) // 2
    return np.ascontiguousarray(bg[top:top + height, left:left + width])


def crop_around_transition(alpha: np.ndarray, size: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(x, y, w, h) of a square crop of ``size`` (at most the image's shorter side) centred on a
    random transition pixel, shifted to stay inside the image. Without transition pixels the
    centre is random."""
    h, w = alpha.shape
    side = min(size, h, w)
    ys, xs = np.nonzero(transition_mask(alpha))
    if len(ys):
        k = int(rng.integers(len(ys)))
        cy, cx = int(ys[k]), int(xs[k])
    else:
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y = min(max(cy - side // 2, 0), h - side)
    x = min(max(cx - side // 2, 0), w - side)
    return x, y, side, side


def cap_longer_side(image: np.ndarray, alpha: np.ndarray, max_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Downscale (area filter) so the longer side is at most ``max_side``."""
    import cv2

    h, w = alpha.shape
    scale = max_side / max(h, w)
    if scale >= 1:
        return image, alpha
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return (cv2.resize(image, size, interpolation=cv2.INTER_AREA),
            cv2.resize(alpha, size, interpolation=cv2.INTER_AREA))
