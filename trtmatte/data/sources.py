"""Foregrounds (colour + alpha) and backgrounds read from directories, checked before any work.

A foreground is either an RGB(A) image in ``--fg`` with a single-channel alpha of the same name
stem in ``--alpha`` (Adobe/Distinctions-646 layout), or an RGBA image whose alpha channel is the
matte (``--alpha`` omitted). Sizes, channel counts and readability are checked from the image
headers up front, so a bad file fails in one line naming it before anything is written. Files are
decoded by :mod:`trtmatte.media.image` (upright, within its pixel limit), like every other image.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import TrtmatteError
from ..media.image import header, read_pixels

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


SINGLE_CHANNEL = {"L", "1", "P", "I", "I;16", "F"}


def directory_foregrounds(fg_dir: str | Path, alpha_dir: str | Path | None) -> list[Item]:
    fgs = list_images(fg_dir, "foreground")
    alphas = {p.stem: p for p in list_images(alpha_dir, "alpha")} if alpha_dir is not None else {}
    items = []
    for fg in fgs:
        size, mode = header(fg)
        if alpha_dir is None:
            if mode not in ("RGBA", "LA", "PA"):
                raise TrtmatteError(f"foreground {fg} has no alpha channel (mode {mode}): give --alpha DIR "
                                    "with a matte of the same name, or use RGBA foregrounds")
            items.append(Item(str(fg), lambda fg=fg: _split_rgba(read_pixels(fg, "RGBA"))))
            continue
        alpha = alphas.get(fg.stem)
        if alpha is None:
            raise TrtmatteError(f"foreground {fg} has no alpha named {fg.stem}.* in {alpha_dir}")
        a_size, a_mode = header(alpha)
        if a_mode not in SINGLE_CHANNEL:
            raise TrtmatteError(f"alpha {alpha} has mode {a_mode}: an alpha matte must be a single-channel "
                                "(greyscale) image")
        if a_size != size:
            raise TrtmatteError(f"alpha {alpha} is {a_size[0]}x{a_size[1]} but foreground {fg} is "
                                f"{size[0]}x{size[1]}: they must match pixel for pixel")
        items.append(Item(str(fg), lambda fg=fg, alpha=alpha: (read_pixels(fg, "RGB"), read_pixels(alpha, "L"))))
    return items


def _split_rgba(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def directory_backgrounds(bg_dir: str | Path) -> list[Item]:
    items = []
    for bg in list_images(bg_dir, "background"):
        header(bg)
        items.append(Item(str(bg), lambda bg=bg: read_pixels(bg, "RGB")))
    return items
