"""Foregrounds (colour + alpha) and backgrounds read from directories, checked before any work.

A foreground is either an RGB(A) image in ``--fg`` with a single-channel alpha of the same name
stem in ``--alpha`` (Adobe/Distinctions-646 layout), or an RGBA image whose alpha channel is the
matte (``--alpha`` omitted). Sizes, channel counts and readability are checked from the image
headers up front, so a bad file fails in one line naming it before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import TrtmatteError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class Item:
    """One foreground (``load() -> (fg uint8 HxWx3, alpha uint8 HxW)``) or background
    (``load() -> uint8 HxWx3``); ``name`` is its provenance: a path, or e.g. "skimage:coffee"."""
    name: str
    load: Callable[[], object]


def list_images(directory: str | Path, what: str) -> list[Path]:
    directory = Path(directory)
    if not directory.is_dir():
        raise TrtmatteError(f"{what} directory {directory} not found")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise TrtmatteError(f"{what} directory {directory} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def _header(path: Path) -> tuple[tuple[int, int], str]:
    """(width, height), PIL mode, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size, im.mode
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise TrtmatteError(f"cannot read image {path}: {exc}") from None


def _decode(path: Path, mode: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            return np.array(im.convert(mode), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise TrtmatteError(f"cannot decode image {path}: {exc} (is the file complete?)") from None


SINGLE_CHANNEL = {"L", "1", "P", "I", "I;16", "F"}


def directory_foregrounds(fg_dir: str | Path, alpha_dir: str | Path | None) -> list[Item]:
    fgs = list_images(fg_dir, "foreground")
    alphas = {p.stem: p for p in list_images(alpha_dir, "alpha")} if alpha_dir is not None else {}
    items = []
    for fg in fgs:
        size, mode = _header(fg)
        if alpha_dir is None:
            if mode not in ("RGBA", "LA", "PA"):
                raise TrtmatteError(f"foreground {fg} has no alpha channel (mode {mode}): give --alpha DIR "
                                    "with a matte of the same name, or use RGBA foregrounds")
            items.append(Item(str(fg), lambda fg=fg: _split_rgba(_decode(fg, "RGBA"))))
            continue
        alpha = alphas.get(fg.stem)
        if alpha is None:
            raise TrtmatteError(f"foreground {fg} has no alpha named {fg.stem}.* in {alpha_dir}")
        a_size, a_mode = _header(alpha)
        if a_mode not in SINGLE_CHANNEL:
            raise TrtmatteError(f"alpha {alpha} has mode {a_mode}: an alpha matte must be a single-channel "
                                "(greyscale) image")
        if a_size != size:
            raise TrtmatteError(f"alpha {alpha} is {a_size[0]}x{a_size[1]} but foreground {fg} is "
                                f"{size[0]}x{size[1]}: they must match pixel for pixel")
        items.append(Item(str(fg), lambda fg=fg, alpha=alpha: (_decode(fg, "RGB"), _decode(alpha, "L"))))
    return items


def _split_rgba(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def directory_backgrounds(bg_dir: str | Path) -> list[Item]:
    items = []
    for bg in list_images(bg_dir, "background"):
        _header(bg)
        items.append(Item(str(bg), lambda bg=bg: _decode(bg, "RGB")))
    return items
