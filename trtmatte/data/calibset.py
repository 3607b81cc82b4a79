"""Write a composite set (images + alphas + manifest) and read it back.

Layout of a set directory::

    images/000000.png     uint8 RGB composite I = alpha*F + (1-alpha)*B
    alphas/000000.png     uint8 greyscale alpha (the ground truth)
    manifest.jsonl        one JSON object a sample: files, sources and every random choice
    calibset.json         the options, the seed and trtmatte's version

Each sample draws its choices from its own generator seeded with (seed, index), so a sample is
the same whatever ``count`` is, and the same seed gives the same set byte for byte. The set is
written into a hidden sibling directory and renamed into place at the end: an interrupted or
failed run leaves no manifest pointing at missing files.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .._version import __version__
from ..errors import TrtmatteError
from ..fileio import check_new_folder
from . import augment
from .composite import composite
from .sources import Item

MANIFEST = "manifest.jsonl"
SETTINGS = "calibset.json"


@dataclass(frozen=True)
class CalibsetOptions:
    count: int = 512
    crop_sizes: tuple[int, ...] = (512, 800)
    max_side: int = 800
    max_angle: float = 15.0  # degrees, uniform in [-max_angle, max_angle]
    flip: bool = True
    seed: int = 0

    def check(self) -> None:
        if self.count < 1:
            raise TrtmatteError(f"-n must be at least 1, got {self.count}")
        if not self.crop_sizes or min(self.crop_sizes) < 32:
            raise TrtmatteError(f"crop sizes must be at least 32 px, got {list(self.crop_sizes)}")
        if self.max_side < 32:
            raise TrtmatteError(f"--max-side must be at least 32, got {self.max_side}")
        if not 0 <= self.max_angle <= 90:
            raise TrtmatteError(f"--max-angle must be within 0..90 degrees, got {self.max_angle}")


@dataclass(frozen=True)
class Sample:
    index: int
    image: Path  # absolute
    alpha: Path
    fg: str
    bg: str
    crop: tuple[int, int, int, int]  # x, y, w, h in the rotated composite
    flip: bool
    angle: float
    size: tuple[int, int]  # height, width as written
    extra: dict = field(default_factory=dict)


def _png(path: Path, array: np.ndarray) -> None:
    import cv2

    pixels = array[..., ::-1] if array.ndim == 3 else array  # OpenCV writes BGR
    if not cv2.imwrite(str(path), np.ascontiguousarray(pixels), [cv2.IMWRITE_PNG_COMPRESSION, 3]):
        raise TrtmatteError(f"cannot write {path}")


def compose_sample(index: int, fg_item: Item, fg_pair, backgrounds: Sequence[Item], load_bg,
                   options: CalibsetOptions) -> tuple[np.ndarray, np.ndarray, dict]:
    """Sample ``index`` of a set: ``fg_pair`` (fg, alpha) flipped, rotated, composited over a
    background drawn from ``backgrounds`` (``load_bg(i)`` decodes the i-th), cropped around a
    transition pixel and size-capped. A pure function of (options.seed, index, inputs): the
    training data loader calls it too, so training and calibration see the same composites.
    Returns (image uint8 HxWx3, alpha uint8 HxW, manifest record)."""
    rng = np.random.default_rng([options.seed, index])
    fg, alpha = fg_pair
    bg_index = int(rng.integers(len(backgrounds)))
    flipped = bool(options.flip and rng.uniform() < 0.5)
    angle = float(rng.uniform(-options.max_angle, options.max_angle)) if options.max_angle else 0.0
    crop_size = int(options.crop_sizes[int(rng.integers(len(options.crop_sizes)))])
    if flipped:
        fg, alpha = augment.flip(fg, alpha)
    fg, alpha = augment.rotate(fg, alpha, angle)
    bg = augment.cover(load_bg(bg_index), *alpha.shape)
    image = composite(fg, alpha, bg)
    x, y, w, h = augment.crop_around_transition(alpha, crop_size, rng)
    image, alpha = augment.cap_longer_side(image[y:y + h, x:x + w], alpha[y:y + h, x:x + w], options.max_side)
    record = {"fg": fg_item.name, "bg": backgrounds[bg_index].name, "crop": [x, y, w, h], "flip": flipped,
              "angle": round(angle, 4), "size": list(alpha.shape)}
    return image, alpha, record


def build_calibset(foregrounds: Sequence[Item], backgrounds: Sequence[Item], out: str | os.PathLike,
                   options: CalibsetOptions = CalibsetOptions(), sources: dict | None = None,
                   progress: Callable[[int], None] | None = None) -> Path:
    """Write ``options.count`` composites to ``out`` (which must not exist, or be empty)."""
    options.check()
    if not foregrounds or not backgrounds:
        raise TrtmatteError("a composite set needs at least one foreground and one background")
    out = check_new_folder(out, "choose another -o")
    parent = out.parent if str(out.parent) else Path(".")
    cache = max(len(foregrounds), 1) if len(foregrounds) <= 64 else 8  # small synthetic sets: all in memory
    load_fg = functools.lru_cache(maxsize=cache)(lambda i: foregrounds[i].load())
    load_bg = functools.lru_cache(maxsize=min(len(backgrounds), 32))(lambda i: backgrounds[i].load())
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    try:
        (tmp / "images").mkdir()
        (tmp / "alphas").mkdir()
        lines = []
        for i in range(options.count):
            fg_index = i % len(foregrounds)  # every foreground in turn, each over several backgrounds
            image, alpha, record = compose_sample(i, foregrounds[fg_index], load_fg(fg_index), backgrounds,
                                                load_bg, options)
            name = f"{i:06d}.png"
            _png(tmp / "images" / name, image)
            _png(tmp / "alphas" / name, alpha)
            lines.append(json.dumps({"index": i, "image": f"images/{name}", "alpha": f"alphas/{name}", **record}))
            if progress:
                progress(i + 1)
        (tmp / MANIFEST).write_text("\n".join(lines) + "\n")
        settings = {"trtmatte_version": __version__, "formula": "I = alpha*F + (1-alpha)*B",
                    "options": asdict(options), "sources": sources or {},
                    "foregrounds": len(foregrounds), "backgrounds": len(backgrounds)}
        (tmp / SETTINGS).write_text(json.dumps(settings, indent=2) + "\n")
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_manifest(directory: str | os.PathLike) -> list[Sample]:
    """The samples of a set written by :func:`build_calibset` (files checked to exist)."""
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise TrtmatteError(f"{directory} has no {MANIFEST}: not a composite set (make one with `trtmatte calibset`)")
    samples = []
    for number, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            sample = Sample(index=int(entry["index"]), image=directory / entry["image"],
                            alpha=directory / entry["alpha"], fg=entry.get("fg", "?"), bg=entry.get("bg", "?"),
                            crop=tuple(entry.get("crop", (0, 0, 0, 0))), flip=bool(entry.get("flip", False)),
                            angle=float(entry.get("angle", 0.0)), size=tuple(entry.get("size", (0, 0))))
        except (ValueError, KeyError, TypeError) as exc:
            raise TrtmatteError(f"{manifest} line {number} is not a valid sample ({type(exc).__name__}: {exc})") from None
        for path in (sample.image, sample.alpha):
            if not path.is_file():
                raise TrtmatteError(f"{manifest} line {number} names {path}, which is missing: rebuild the set")
        samples.append(sample)
    if not samples:
        raise TrtmatteError(f"{manifest} lists no samples")
    return samples


def load_sample(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 HxWx3, alpha float32 HxW in [0, 1])."""
    from ..media.image import read_pixels, read_rgb

    image = read_rgb(sample.image)
    alpha = read_pixels(sample.alpha, "L").astype(np.float32) / 255.0
    if alpha.shape != image.shape[:2]:
        raise TrtmatteError(f"alpha {sample.alpha} is {alpha.shape} but image {sample.image} is {image.shape[:2]}")
    return image, alpha


def square_images(samples: Sequence[Sample], size: int, with_alpha: bool = False):
    """The samples' images centre-cropped to a square and resized to ``size`` (area filter): one
    shape for all, as a calibration batch needs. ``with_alpha``: (images, alphas), the ground-truth
    alphas cropped and resized the same way."""
    import cv2

    out, alphas = [], []
    for sample in samples:
        image, alpha = load_sample(sample)
        h, w = image.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        for source, dest in ((image, out), (alpha, alphas) if with_alpha else (None, None)):
            if source is not None:
                crop = source[top:top + side, left:left + side]
                dest.append(np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=interpolation)))
    return (out, alphas) if with_alpha else out
