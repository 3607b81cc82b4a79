"""Score a model on a user's own dataset: matte every image and compare with its ground truth.

A dataset is two or three folders whose files pair by name (stem), whatever their suffixes::

    images/  a.jpg  b.png        photos (RGB; read like `trtmatte matte` reads them)
    alphas/  a.png  b.png        ground-truth alpha: 8-bit grey, or 16-bit grey scaled to [0, 1]
    trimaps/ a.png  b.png        optional: 0 background, 128 unknown, 255 foreground

Per image, the four matting metrics of :mod:`trtmatte.evaluation.metrics` (SAD, MSE, Grad, Conn, computed
the DIM way) are computed over an evaluated *region* -- the trimap's unknown pixels (== 128) when
there are trimaps, else the ground truth's transition (0 < alpha < 1) dilated by ``band`` pixels --
and over the full image. The mean is the plain mean over images (as papers report), MSE over the
images whose region is not empty.

A trimap-based model (AdaMatting: ``matter.needs_trimap``) is fed each image's trimap from the
dataset, the same array that defines the scored region; without dataset trimaps it needs a Matter
that derives them (``Matter(..., auto_trimap=...)``, `trtmatte eval --trimap auto`). Dataset
trimaps are read strictly (only 0, 128 and 255), since ``== 128`` is the scored region; `trtmatte
matte` reads trimap files by thresholds instead (trtmatte/trimap.py), because there they only
steer the model. Both readers are :func:`trtmatte.media.image.read_trimap` (``strict=True`` here).

The package: ``pairing`` (pairing files by name, the checks before inference), ``scoring`` (one
row per image, the means, the JSON report), ``report`` (the table), ``metrics`` (SAD, MSE, Grad,
Conn: also what the quantize accuracy report scores with).

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
from .pairing import Sample, check_dataset, check_model_trimaps, check_sizes, pair_dataset
from .report import format_table
from .scoring import (DEFAULT_BAND, METRICS, SCHEMA, UNITS, describe_backend, evaluate_dataset, iter_evaluate,
                      mean_rows, score)

__all__ = ["DEFAULT_BAND", "METRICS", "SCHEMA", "UNITS", "Sample", "check_dataset", "check_model_trimaps",
           "check_sizes", "describe_backend", "evaluate_dataset", "format_table", "iter_evaluate", "mean_rows",
           "pair_dataset", "score"]
