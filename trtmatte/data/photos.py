"""Real photos for parity checks, calibration and reports: scikit-image's bundled ones (no download;
``pip install 'trtmatte[data]'``)."""
from __future__ import annotations

import numpy as np


def sample_photos(max_side: int = 400) -> list[np.ndarray]:
    """Real photos bundled with scikit-image (no download), longer side at most ``max_side``."""
    return [image for _, image in named_photos(max_side)]


def named_photos(max_side: int = 400) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 RGB) of scikit-image's bundled photos, longer side at most ``max_side``."""
    from PIL import Image

    from .._lazy import require

    data = require("skimage.data", "the bundled sample photos (pip install 'trtmatte[data]')")
    photos = []
    for name in ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field"):
        try:
            image = getattr(data, name)()
        except Exception:  # pragma: no cover - a photo missing from some scikit-image version
            continue
        image = np.asarray(Image.fromarray(image).convert("RGB"))
        scale = max_side / max(image.shape[:2])
        if scale < 1:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
        photos.append((name, image))
    return photos
