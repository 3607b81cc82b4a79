"""An evaluation dataset: image, alpha and (optional) trimap files paired by name, and everything
that can be checked before the first inference (pairing, sizes from the headers, trimaps or band,
the metrics' packages, a trimap model's trimaps)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import TrtmatteError
from ..media.image import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, upright_size

# The band the precision report uses too (trtmatte/quantize/accuracy.py, `quantize --band`): the
# transition region grown by 10 px. Late Fusion's "-25" tables use 25.
DEFAULT_BAND = 10
_SHOW = 3  # names quoted in a pairing error


@dataclass(frozen=True)
class Sample:
    """One evaluation item: the files that share the stem ``name``."""

    name: str
    image: Path
    alpha: Path
    trimap: Path | None = None


# ----------------------------------------------------------------------------- pairing


def _listing(folder: str | os.PathLike, what: str) -> dict[str, Path]:
    """stem -> file for the image files of ``folder`` (hidden files, sub-folders and other
    suffixes are not dataset files and are left alone)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrtmatteError(f"{what} folder {folder} not found (give a directory)")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if path.stem in found:
            raise TrtmatteError(f"{what} folder {folder} has two files named {path.stem!r} "
                                f"({found[path.stem].name} and {path.name}): keep one")
        found[path.stem] = path
    if not found:
        raise TrtmatteError(f"{what} folder {folder} has no image files ({', '.join(IMAGE_SUFFIXES)})")
    return found


def _names(stems: Sequence[str]) -> str:
    shown = ", ".join(stems[:_SHOW])
    return shown + (f", ... ({len(stems) - _SHOW} more)" if len(stems) > _SHOW else "")


def _unpaired(left: dict[str, Path], right: dict[str, Path], left_what: str, right_what: str,
              right_dir: str | os.PathLike) -> str | None:
    missing = sorted(set(left) - set(right))
    if not missing:
        return None
    noun = left_what if len(missing) == 1 else left_what + "s"
    verb = "has" if len(missing) == 1 else "have"
    return f"{len(missing)} {noun} {verb} no {right_what} in {right_dir} ({_names(missing)})"


def pair_dataset(images: str | os.PathLike, alphas: str | os.PathLike,
                 trimaps: str | os.PathLike | None = None) -> list[Sample]:
    """The samples of a dataset, sorted by name. Files pair by stem (``a.jpg`` with ``a.png``);
    a file without its counterpart in every other folder is one error naming how many and the first few."""
    found = {"image": _listing(images, "images"), "alpha": _listing(alphas, "alphas")}
    dirs = {"image": images, "alpha": alphas}
    if trimaps is not None:
        found["trimap"], dirs["trimap"] = _listing(trimaps, "trimaps"), trimaps
    problems = []
    for kind in found:
        for other in found:
            if other != kind and (kind == "image" or other == "image"):  # everything is paired with the images
                problem = _unpaired(found[kind], found[other], kind, other, dirs[other])
                if problem:
                    problems.append(problem)
    if problems:
        raise TrtmatteError("; ".join(problems) + " (files pair by name, whatever the suffix)")
    return [Sample(stem, path, found["alpha"][stem], found["trimap"][stem] if trimaps is not None else None)
            for stem, path in found["image"].items()]


# ----------------------------------------------------------------------------- checking


def check_sizes(samples: Sequence[Sample], max_pixels: int | None = DEFAULT_MAX_PIXELS,
                progress: bool = False) -> list[tuple[int, int]]:
    """(width, height) of every sample, from the headers; a file whose size differs from its
    image's is one error naming it and both sizes. Seconds for thousands of files: run before inference."""
    from tqdm import tqdm

    sizes = []
    for sample in tqdm(samples, desc="checking", unit="file", file=sys.stderr, disable=not progress, leave=False):
        size = upright_size(sample.image, "image", max_pixels)
        for what, path in (("alpha", sample.alpha), ("trimap", sample.trimap)):
            if path is not None:
                other = upright_size(path, what, max_pixels)
                if other != size:
                    raise TrtmatteError(f"{what} {path} is {other[0]}x{other[1]} but image {sample.image} is "
                                        f"{size[0]}x{size[1]} (sizes are width x height; they must match)")
        sizes.append(size)
    return sizes


def resolve_band(samples: Sequence[Sample], band: int | None) -> int | None:
    """The band to score (None: the samples' trimaps), after checking the two are consistent."""
    if not samples:
        raise TrtmatteError("nothing to evaluate: no samples")
    trimaps = [s.trimap is not None for s in samples]
    if any(trimaps) and not all(trimaps):
        raise TrtmatteError("either every sample has a trimap or none has")
    if all(trimaps):
        if band is not None:
            raise TrtmatteError("give trimaps or a band, not both (with trimaps the region is their unknown pixels)")
        return None
    if band is None:
        return DEFAULT_BAND
    if isinstance(band, bool) or not isinstance(band, (int, np.integer)) or band < 0:
        raise TrtmatteError(f"band must be a non-negative number of pixels, got {band!r}")
    return int(band)


def check_dataset(samples: Sequence[Sample], band: int | None = None, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                  progress: bool = False) -> int | None:
    """Everything that can fail before inference, in seconds: trimaps vs band, the metrics'
    packages (OpenCV, SciPy), every file's header and size. Returns the band to score (None: trimaps).
    Call it before opening the model (building an engine takes minutes)."""
    from .._lazy import require

    band = resolve_band(samples, band)
    require("cv2", "the Grad and Conn metrics")
    require("scipy", "the Conn metric")
    check_sizes(samples, max_pixels, progress=progress)
    return band


def check_model_trimaps(matter: Any, samples: Sequence[Sample]) -> bool:
    """Whether ``matter`` is fed the samples' trimaps (a trimap-based model); a trimap model and a
    dataset without trimaps is one error naming the two ways out. Call it after opening the model."""
    if not getattr(matter, "needs_trimap", False):
        return False
    if any(sample.trimap is None for sample in samples):
        info = getattr(matter, "info", None)
        name = getattr(info, "variant", None) or type(matter).__name__
        raise TrtmatteError(f"model {name} needs trimaps: give --trimaps DIR (0/128/255, named like the images) "
                            "or --trimap auto (derived by Late Fusion)")
    return True
