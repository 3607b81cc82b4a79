"""Small random photos written to disk for tests (any format Pillow writes by the suffix)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def save_image(path: Path, shape=(30, 40), seed=0) -> Path:
    """A seed-determined RGB image of ``shape`` (H, W) at ``path``, its folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
    return path
