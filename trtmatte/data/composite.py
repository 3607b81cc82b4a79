"""The compositing equation of matting datasets: I = alpha * F + (1 - alpha) * B."""
from __future__ import annotations

import numpy as np

from ..errors import TrtmatteError


def as_unit_alpha(alpha: np.ndarray) -> np.ndarray:
    """float32 alpha in [0, 1] from uint8 (0-255) or float input."""
    alpha = np.asarray(alpha)
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) / 255.0
    return np.clip(alpha.astype(np.float32), 0.0, 1.0)


def composite(fg: np.ndarray, alpha: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 image ``alpha*fg + (1-alpha)*bg``, computed in float32 and rounded.

    ``fg`` and ``bg``: uint8 HxWx3; ``alpha``: HxW, uint8 (0-255) or float in [0, 1].
    """
    fg, bg = np.asarray(fg), np.asarray(bg)
    a = as_unit_alpha(alpha)
    if fg.shape != bg.shape or fg.ndim != 3 or fg.shape[2] != 3:
        raise TrtmatteError(f"foreground {fg.shape} and background {bg.shape} must both be HxWx3 of one size")
    if a.shape != fg.shape[:2]:
        raise TrtmatteError(f"alpha {a.shape} does not match the foreground {fg.shape[:2]}")
    a = a[..., None]
    image = a * fg.astype(np.float32) + (1.0 - a) * bg.astype(np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def transition_mask(alpha: np.ndarray) -> np.ndarray:
    """Bool HxW: the pixels strictly between background and foreground (0 < alpha < 1)."""
    a = np.asarray(alpha)
    top = 255 if a.dtype == np.uint8 else 1.0
    return (a > 0) & (a < top)
