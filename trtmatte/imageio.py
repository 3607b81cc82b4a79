"""Reading photos and writing mattes, with one-line errors and atomic writes."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import TrtmatteError
from .fileio import atomic_output


def read_rgb(path: str | Path) -> np.ndarray:
    """uint8 [H, W, 3] RGB: alpha dropped, grey and palette images expanded (as the authors read)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise TrtmatteError(f"image {path} not found")
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise TrtmatteError(f"cannot read image {path}: {exc} (is it a complete PNG/JPEG/...?)") from None
    return np.array(rgb, dtype=np.uint8)  # writable copy


def write_alpha(path: str | Path, alpha: np.ndarray) -> Path:
    """Save float alpha in [0, 1] as an 8-bit greyscale image (format from the suffix)."""
    from PIL import Image

    path = Path(path)
    a8 = np.clip(np.rint(np.asarray(alpha, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise TrtmatteError(f"cannot write {path}: unknown image suffix {path.suffix!r} (use .png)")
    with atomic_output(path) as tmp:
        Image.fromarray(a8, mode="L").save(tmp, format=fmt)
    return path
