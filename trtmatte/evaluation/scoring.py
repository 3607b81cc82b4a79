"""Scoring a model on a dataset: matte each sample, compare with its ground truth over the region
and the full image, the means, and the JSON-ready report (schema ``trtmatte.eval/1``)."""
from __future__ import annotations

import math
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import TrtmatteError
from ..media.image import DEFAULT_MAX_PIXELS, read_alpha, read_rgb, read_trimap
from .pairing import DEFAULT_BAND, Sample, check_dataset, check_model_trimaps, resolve_band

SCHEMA = "trtmatte.eval/1"
METRICS = ("sad", "mse", "grad", "conn")
UNITS = {
    "sad": "sum over the region of |alpha - gt|, divided by 1000",
    "mse": "mean over the region of (alpha - gt)^2 (not scaled)",
    "grad": "sum over the region of (|grad alpha| - |grad gt|)^2, Gaussian derivatives sigma 1.4, divided by 1000",
    "conn": "DIM connectivity error (threshold step 0.1) summed over the region, divided by 1000",
}


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
        trimap = read_trimap(sample.trimap, max_pixels, strict=True) if sample.trimap is not None else None
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

    from .._version import __version__

    samples = list(samples)
    band = check_dataset(samples, band, max_pixels, progress) if check else resolve_band(samples, band)
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
