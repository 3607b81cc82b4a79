"""Score a model on a user's own dataset: matte every image and compare with its ground truth.

A dataset is two or three folders whose files pair by name (stem), whatever their suffixes::

    images/  a.jpg  b.png        photos (RGB; read like `trtmatte matte` reads them)
    alphas/  a.png  b.png        ground-truth alpha: 8-bit grey, or 16-bit grey scaled to [0, 1]
    trimaps/ a.png  b.png        optional: 0 background, 128 unknown, 255 foreground

Per image, the four matting metrics of :mod:`trtmatte.metrics` (SAD, MSE, Grad, Conn, computed
the DIM way) are computed over an evaluated *region* -- the trimap's unknown pixels (== 128) when
there are trimaps, else the ground truth's transition (0 < alpha < 1) dilated by ``band`` pixels --
and over the full image. The mean is the plain mean over images (as papers report), MSE over the
images whose region is not empty.

A trimap-based model (AdaMatting: ``matter.needs_trimap``) is fed each image's trimap from the
dataset, the same array that defines the scored region; without dataset trimaps it needs a Matter
that derives them (``Matter(..., auto_trimap=...)``, `trtmatte eval --trimap auto`). Dataset
trimaps are read strictly (only 0, 128 and 255), since ``== 128`` is the scored region; `trtmatte
matte` reads trimap files by thresholds instead (trtmatte/trimap.py), because there they only
steer the model.

Before the first inference, a name without its counterpart, an unreadable header, a size mismatch
or a trimap model without trimaps is a one-line :class:`~trtmatte.errors.TrtmatteError`. Then the
images are streamed: one image, its alpha and trimap in memory at a time; a trimap with values
other than 0/128/255 is a one-line error when it is read.

    from trtmatte import Matter
    from trtmatte.evaluation import pair_dataset, evaluate_dataset
    samples = pair_dataset("images", "alphas", "trimaps")
    with Matter(onnx="late_fusion.onnx") as matter:
        report = evaluate_dataset(matter, samples)      # JSON-ready dict (schema trtmatte.eval/1)
    print(report["mean"]["region"]["sad"])
"""
from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from .errors import TrtmatteError
from .imageio import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageError, read_rgb

SCHEMA = "trtmatte.eval/1"
METRICS = ("sad", "mse", "grad", "conn")
# The band the precision report uses too (trtmatte/quantize/accuracy.py, `quantize --band`): the
# transition region grown by 10 px. Late Fusion's "-25" tables use 25.
DEFAULT_BAND = 10
UNITS = {
    "sad": "sum over the region of |alpha - gt|, divided by 1000",
    "mse": "mean over the region of (alpha - gt)^2 (not scaled)",
    "grad": "sum over the region of (|grad alpha| - |grad gt|)^2, Gaussian derivatives sigma 1.4, divided by 1000",
    "conn": "DIM connectivity error (threshold step 0.1) summed over the region, divided by 1000",
}
TRIMAP_VALUES = (0, 128, 255)
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


# ----------------------------------------------------------------------------- reading


def _open(path: Path, what: str, max_pixels: int | None):
    """The PIL image at ``path`` (lazy: header only), upright, within the pixel limit."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ImageError(f"{what} {path} not found")
    if path.stat().st_size == 0:
        raise ImageError(f"cannot read {what} {path}: the file is empty")
    Image.MAX_IMAGE_PIXELS = max_pixels or None  # as read_rgb: our check below says it better
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{what} {path} is too large to decode safely ({exc}); raise --max-pixels if it is "
                         "genuine") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read {what} {path}: {_first_line(exc)}") from None
    width, height = im.size
    if max_pixels and width * height > max_pixels:
        im.close()
        raise ImageError(f"{what} {path} is {width}x{height} = {width * height / 1e6:.0f} megapixels, over the limit "
                         f"of {max_pixels / 1e6:.0f} (raise it with --max-pixels, or downscale it)")
    return im


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _exif_rotated(im) -> bool:
    """Whether the EXIF orientation swaps width and height (5..8: transposed or rotated 90)."""
    try:
        return im.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # a broken EXIF block: read_rgb's exif_transpose decides, the size check repeats after decoding
        return False


def upright_size(path: str | os.PathLike, what: str = "image",
                 max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) as a viewer shows the file (EXIF rotation applied), from the header only."""
    im = _open(Path(path), what, max_pixels)
    with im:
        width, height = im.size
        return (height, width) if _exif_rotated(im) else (width, height)


def _grey(im, path: Path, what: str) -> np.ndarray:
    """The grey channel of a decoded ground-truth file as float64 in [0, 1]."""
    mode = im.mode
    if mode == "1":
        return np.asarray(im, dtype=np.float64)
    if mode == "L":
        return np.asarray(im, dtype=np.float64) / 255.0
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(im, dtype=np.float64)
        if values.min() < 0 or values.max() > 65535:
            raise ImageError(f"{what} {path} is a {mode} image with values outside 0..65535: save it as 8- or 16-bit grey")
        return values / 65535.0
    if mode == "F":
        values = np.asarray(im, dtype=np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise ImageError(f"{what} {path} is a float image with values outside [0, 1]: save it as 8- or 16-bit grey")
        return values
    if mode == "P":
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La", "RGBA", "RGBa", "PA"):
        im = im.convert("RGBA" if mode != "LA" else "LA")
        bands = np.asarray(im)
        transparency = bands[..., -1]
        if (transparency < 255).any():  # a cut-out: the ground truth is its transparency
            return transparency.astype(np.float64) / 255.0
        bands = bands[..., :-1]
    else:
        bands = np.asarray(im.convert("RGB"))  # RGB, CMYK, YCbCr, ...
        if bands.ndim == 2:
            bands = bands[..., None]
    if bands.shape[-1] > 1 and not (bands == bands[..., :1]).all():
        raise ImageError(f"{what} {path} is a colour image ({im.mode} with different channels): ground truth must be "
                         "greyscale (is this the images folder?)")
    return bands[..., 0].astype(np.float64) / 255.0


def _read_grey(path: str | os.PathLike, what: str, max_pixels: int | None) -> np.ndarray:
    from PIL import ImageOps

    path = Path(path)
    im = _open(path, what, max_pixels)
    try:
        with im:
            im.load()
            return _grey(ImageOps.exif_transpose(im), path, what)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read {what} {path}: {_first_line(exc)} (is it a complete PNG/...?)") from None


def read_alpha(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Ground-truth alpha as float64 [H, W] in [0, 1]: 8-bit grey / 255, 16-bit grey / 65535; a grey
    image saved as RGB is read from one channel; an image with a transparency channel that is not
    fully opaque (a cut-out) gives that channel. Upright (EXIF rotation applied, as photos are read)."""
    return _read_grey(path, "alpha", max_pixels)


def read_trimap(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Trimap as uint8 [H, W] with values 0 / 128 / 255 only (16-bit files are scaled to 8 bits);
    anything else -- a JPEG-saved or resized trimap -- is an error, since the unknown region is
    exactly ``== 128`` (as DIM's evaluation)."""
    path = Path(path)
    trimap = np.rint(_read_grey(path, "trimap", max_pixels) * 255.0).astype(np.uint8)
    other = ~np.isin(trimap, TRIMAP_VALUES)
    if other.any():
        values, counts = np.unique(trimap[other], return_counts=True)
        worst = np.argsort(-counts)[:3]
        sample = ", ".join(f"{values[i]} ({counts[i]} px)" for i in worst)
        raise ImageError(f"trimap {path} has values other than 0/128/255: {sample}; the unknown region must be "
                         "exactly 128 (was it saved as JPEG or resized with interpolation?)")
    return trimap


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


def _resolve_band(samples: Sequence[Sample], band: int | None) -> int | None:
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
    from ._lazy import require

    band = _resolve_band(samples, band)
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


def describe_backend(matter: Any) -> dict:
    """What produced the predictions, for labelling: the session's info, the reason it was chosen."""
    info = getattr(matter, "info", None)
    out: dict[str, Any] = {"label": getattr(info, "label", None) or type(matter).__name__}
    if info is not None and hasattr(info, "to_dict"):
        out.update(info.to_dict())
    reason = getattr(matter, "reason", None)
    if reason:
        out["reason"] = reason
    note = getattr(getattr(matter, "session", None), "weights_note", None)
    if note:
        out["weights"] = note
    return out


# ----------------------------------------------------------------------------- scoring


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def score(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None,
          band: int | None = DEFAULT_BAND) -> dict:
    """The four metrics over the region (trimap's unknown pixels if a trimap is given, else the
    ``band``) and over the full image: ``{"region": {...}, "full": {...}, "region_pixels": n}``.
    MSE is None when the region is empty."""
    from . import metrics as M

    region = M.region_mask(gt, trimap=trimap) if trimap is not None else M.region_mask(gt, band=band)
    full = np.ones(region.shape, dtype=bool)
    # Grad and Conn filter the whole image whatever the region (as DIM): only the sums differ.
    out = {"region_pixels": int(region.sum())}
    for key, mask in (("region", region), ("full", full)):
        out[key] = {"sad": M.sad(pred, gt, mask), "mse": _clean(M.mse(pred, gt, mask)),
                    "grad": M.gradient_error(pred, gt, mask), "conn": M.connectivity_error(pred, gt, mask)}
    return out


def _as_8bit(alpha: np.ndarray) -> np.ndarray:
    """Alpha as `trtmatte matte` saves it (8-bit PNG), back in [0, 1]."""
    return np.rint(np.clip(alpha, 0.0, 1.0) * 255.0) / 255.0


def iter_evaluate(matter: Callable[..., np.ndarray], samples: Iterable[Sample], band: int | None = DEFAULT_BAND,
                  max_pixels: int | None = DEFAULT_MAX_PIXELS, quantize: bool = True) -> Iterator[dict]:
    """One row per sample, in order: ``{"name", "image", "alpha", "trimap", "width", "height",
    "region_pixels", "seconds", "region": {metric: value}, "full": {...}}``. ``matter`` maps uint8
    [H, W, 3] to alpha [1, H, W] (a :class:`trtmatte.Matter`); a trimap-based one (``needs_trimap``)
    is called ``matter(image, trimap)`` with the sample's trimap. ``quantize`` scores the alpha as
    `trtmatte matte` writes it (8 bits, as DIM's evaluation reads predictions) instead of the raw floats."""
    feed_trimap = bool(getattr(matter, "needs_trimap", False))
    for sample in samples:
        if feed_trimap and sample.trimap is None:
            check_model_trimaps(matter, [sample])  # raises: the model cannot run without it
        image = read_rgb(sample.image, max_pixels=max_pixels)
        gt = read_alpha(sample.alpha, max_pixels)
        trimap = read_trimap(sample.trimap, max_pixels) if sample.trimap is not None else None
        height, width = image.shape[:2]
        for what, path, array in (("alpha", sample.alpha, gt), ("trimap", sample.trimap, trimap)):
            if array is not None and array.shape != (height, width):  # the header check, after decoding
                raise TrtmatteError(f"{what} {path} is {array.shape[1]}x{array.shape[0]} but image {sample.image} is "
                                    f"{width}x{height} (sizes are width x height; they must match)")
        start = time.perf_counter()
        alpha = np.asarray(matter(image, trimap) if feed_trimap else matter(image))
        seconds = time.perf_counter() - start
        if alpha.ndim == 3:
            alpha = alpha[0]
        if alpha.shape != (height, width):
            raise TrtmatteError(f"the backend returned a {alpha.shape[1] if alpha.ndim == 2 else '?'}x"
                                f"{alpha.shape[0]} alpha for {sample.image} ({width}x{height}): not a matting model?")
        alpha = alpha.astype(np.float64)
        if not np.isfinite(alpha).all():
            raise TrtmatteError(f"the backend returned NaN or infinite alpha for {sample.image} "
                                "(a broken engine or an fp16/int8 overflow?)")
        alpha = _as_8bit(alpha) if quantize else np.clip(alpha, 0.0, 1.0)
        try:
            scores = score(alpha, gt, trimap, None if trimap is not None else band)
        except TrtmatteError as exc:
            raise TrtmatteError(f"{sample.name}: {exc}") from None
        yield {"name": sample.name, "image": str(sample.image), "alpha": str(sample.alpha),
               "trimap": str(sample.trimap) if sample.trimap is not None else None, "width": width,
               "height": height, "seconds": seconds, **scores}


def mean_rows(rows: Sequence[dict]) -> dict:
    """Plain mean over images of each metric, per region; MSE over the rows where it is defined."""
    out: dict[str, dict] = {}
    for key in ("region", "full"):
        out[key] = {}
        for metric in METRICS:
            values = [row[key][metric] for row in rows if row[key][metric] is not None]
            out[key][metric] = float(np.mean(values)) if values else None
    return out


def evaluate_dataset(matter: Any, samples: Sequence[Sample], band: int | None = None,
                     max_pixels: int | None = DEFAULT_MAX_PIXELS, quantize: bool = True,
                     progress: bool = True, check: bool = True) -> dict:
    """Matte and score every sample; the JSON-ready report (schema ``trtmatte.eval/1``).

    Without trimaps the region is ``band`` px around the transition (default 10; 0: the
    transition itself); with trimaps ``band`` must be None. ``check`` runs :func:`check_dataset`
    first (pass False if you already did)."""
    from tqdm import tqdm

    from ._version import __version__

    samples = list(samples)
    band = check_dataset(samples, band, max_pixels, progress) if check else _resolve_band(samples, band)
    has_trimaps = band is None
    fed = check_model_trimaps(matter, samples)  # before the first inference

    started = time.perf_counter()
    rows = []
    bar = tqdm(total=len(samples), desc="eval", unit="img", file=sys.stderr, disable=not progress)
    try:
        for row in iter_evaluate(matter, samples, band=band, max_pixels=max_pixels, quantize=quantize):
            rows.append(row)
            bar.update(1)
    finally:
        bar.close()
    total = time.perf_counter() - started
    inference = sum(row["seconds"] for row in rows)
    return {
        "schema": SCHEMA,
        "trtmatte": __version__,
        "backend": describe_backend(matter),
        "settings": {
            "images": str(samples[0].image.parent),
            "alphas": str(samples[0].alpha.parent),
            "trimaps": str(samples[0].trimap.parent) if has_trimaps else None,
            "region": "trimap" if has_trimaps else "band",
            "region_definition": ("trimap == 128 (unknown)" if has_trimaps
                                  else f"0 < gt < 1 dilated by {band} px (square {2 * band + 1}x{2 * band + 1})"),
            "band_px": None if has_trimaps else int(band),
            # what a trimap-based model was given: the dataset's trimaps, or None (trimap-free, or
            # trimaps derived inside the Matter: see backend.variant)
            "model_trimaps": "dataset" if fed else None,
            "prediction": "8-bit, as `trtmatte matte` saves it" if quantize else "float, as the backend returns it",
            "max_pixels": max_pixels,
        },
        "units": UNITS,
        "counts": {
            "images": len(rows),
            "pixels": int(sum(row["width"] * row["height"] for row in rows)),
            "region_pixels": int(sum(row["region_pixels"] for row in rows)),
            "empty_region": sum(1 for row in rows if row["region_pixels"] == 0),
        },
        "seconds": {"total": total, "inference": inference,
                    "images_per_second": len(rows) / total if total > 0 else None},
        "images": rows,
        "mean": mean_rows(rows),
    }


# ----------------------------------------------------------------------------- printing


def _cell(value: float | None, width: int, digits: int) -> str:
    return f"{'n/a':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def format_table(report: dict, name_width: int = 28) -> list[str]:
    """The report as fixed-width lines: one per image and the mean (SAD, Grad, Conn in thousands)."""
    rows = report["images"]
    width = min(max([len(r["name"]) for r in rows] + [len("mean"), len("image")]), name_width)
    region = report["settings"]["region"]
    label = "trimap" if region == "trimap" else f"band {report['settings']['band_px']}"
    group = f"{('-- ' + label + ' ').ljust(43, '-')}  {'-- full image '.ljust(43, '-')}"
    head = (f"{'image':<{width}} {'size':>9} {'px':>8}  {'SAD':>10} {'MSE':>10} {'Grad':>10} {'Conn':>10}  "
            f"{'SAD':>10} {'MSE':>10} {'Grad':>10} {'Conn':>10}")

    def line(name: str, size: str, px: str, metrics: dict) -> str:
        name = name if len(name) <= width else name[:width - 1] + "~"
        cells = []
        for key in ("region", "full"):
            m = metrics[key]
            cells.append(" ".join((_cell(m["sad"], 10, 4), _cell(m["mse"], 10, 6), _cell(m["grad"], 10, 4),
                                   _cell(m["conn"], 10, 4))))
        return f"{name:<{width}} {size:>9} {px:>8}  {cells[0]}  {cells[1]}"

    out = [" " * (width + 21) + group, head]
    for r in rows:
        out.append(line(r["name"], f"{r['width']}x{r['height']}", str(r["region_pixels"]), r))
    out.append("-" * len(head))
    out.append(line("mean", f"{len(rows)} img", "", report["mean"]))
    return out
