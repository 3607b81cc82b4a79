"""What a precision costs in matte quality: each converted graph against its FP32 source.

On held-out composites (ground-truth alpha, never the calibration images) the four matting
metrics are computed for the FP32 graph and for each candidate, over the trimap band (transition
pixels dilated by ``band`` px) and the full image; a candidate's cost is its metric relative to
FP32's. On real photos (no ground truth) and on the composites, |alpha - alpha_FP32| gives the
max and p99. Everything runs in onnxruntime on the CPU, and the report says so: onnxruntime has
few float16 CPU kernels and computes such nodes in float32 between float16 casts, which keeps the
float16 rounding of weights and of every activation but not float16 arithmetic inside an op
(TensorRT accumulates FP16 convolutions in FP32 too).
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from .._version import __version__
from ..contract.names import INT8_BODY
from ..evaluation import metrics as M

METRICS = ("sad", "mse", "grad", "conn")
REGIONS = ("band", "full")
# Goals of the precision issue: SAD (trimap band) within this fraction of FP32's.
SAD_GOALS = {"fp16": 0.005, "int8": 0.03}
DEFAULT_BAND = 10


@dataclass
class Candidate:
    label: str  # e.g. "int8 (entropy)"
    path: str
    precision: str  # fp16 / int8
    method: str | None = None
    quantizer: str = "trtmatte"  # trtmatte / modelopt
    seconds: float = 0.0  # conversion time (calibration included)
    peak_rss_bytes: int = 0  # resident memory peak of the process when the conversion ended


@dataclass
class GraphAccuracy:
    label: str
    path: str
    precision: str
    method: str | None
    size_bytes: int
    seconds: float  # onnxruntime time over all evaluation images (CPU; not a latency figure)
    metrics: dict = field(default_factory=dict)  # region -> metric -> mean over composites
    relative: dict = field(default_factory=dict)  # region -> metric -> (candidate - fp32) / fp32
    delta_composites: dict = field(default_factory=dict)  # max / p99 / mean |alpha - alpha_fp32|
    delta_photos: dict = field(default_factory=dict)
    goal: dict = field(default_factory=dict)
    int8_body: str | None = None  # INT8 graphs: fp16 / fp32, the float precision of the rest of the body
    quantizer: str = "trtmatte"
    int8_convs: dict = field(default_factory=dict)  # conv role -> "int8 / all" convs (a Q/DQ pair on the input)
    qdq_nodes: int = 0  # QuantizeLinear + DequantizeLinear nodes in the graph
    conversion_seconds: float = 0.0
    peak_rss_bytes: int = 0


def _graph_size(path: str) -> int:
    base = os.path.getsize(path)
    data = path + ".data"
    return base + (os.path.getsize(data) if os.path.isfile(data) else 0)


def _delta(deltas: list[np.ndarray]) -> dict:
    if not deltas:
        return {}
    d = np.concatenate([x.ravel() for x in deltas])
    return {"max": float(d.max()), "p99": float(np.percentile(d, 99)), "mean": float(d.mean())}


def _mean_metrics(alphas: list[np.ndarray], truths: list[np.ndarray], band: int) -> dict:
    table = {region: {m: [] for m in METRICS} for region in REGIONS}
    for pred, gt in zip(alphas, truths):
        for region, kwargs in (("band", {"band": band}), ("full", {})):
            for name, value in M.evaluate(pred, gt, **kwargs).items():
                table[region][name].append(value)
    return {r: {m: float(np.mean(v)) for m, v in ms.items()} for r, ms in table.items()}


def _qdq_by_role(path: str, roles: dict[str, set[str]]) -> tuple[dict, int]:
    """({role: "int8/all"} for the source's conv roles (and "other"), Q/DQ node count) of a graph:
    a Conv counts as int8 when its data input comes from a DequantizeLinear."""
    from ..contract.graphio import load_onnx

    graph = load_onnx(path, "counting Q/DQ", weights=False).graph
    made_by = {out: n.op_type for n in graph.node for out in n.output}
    convs = {n.name: made_by.get(n.input[0]) == "DequantizeLinear" for n in graph.node if n.op_type == "Conv"}
    table = {}
    for role, names in roles.items():
        inside = [convs[n] for n in names if n in convs]
        table[role] = f"{sum(inside)}/{len(inside)}"
    qdq = sum(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)
    return table, qdq


def _conv_roles(reference: str) -> dict[str, set[str]]:
    from ..contract.anatomy import ROLES, analyse, name_nodes
    from ..contract.graphio import load_onnx

    model = load_onnx(reference, "reading the graph's anatomy", weights=False)
    name_nodes(model.graph)
    anatomy = analyse(model, reference)
    roles = {role: set(anatomy.role(role)) for role in ROLES}
    roles["other"] = set(anatomy.convs) - set().union(*roles.values())
    return roles


def _run(session_factory: Callable, path: str, images: Sequence[np.ndarray], photos: Sequence[np.ndarray],
         trimaps: Sequence[np.ndarray] = (), photo_trimaps: Sequence[np.ndarray] = ()
         ) -> tuple[list[np.ndarray], float, list[np.ndarray], dict]:
    """One session per graph: (alphas of ``images``, seconds they took, alphas of ``photos``, the
    graph's trtmatte metadata). A graph with a trimap input gets ``trimaps`` and ``photo_trimaps``."""
    session = session_factory(path)

    def run(pictures, maps):
        if not getattr(session, "needs_trimap", False):
            return [session.run(p)[0] for p in pictures]
        return [session.run(p, t)[0] for p, t in zip(pictures, maps)]
    start = time.perf_counter()
    out = run(images, trimaps)
    seconds = time.perf_counter() - start
    return out, seconds, run(photos, photo_trimaps), getattr(session, "metadata", {})


def accuracy_report(reference: str, candidates: Sequence[Candidate], composites: Sequence[tuple[np.ndarray, np.ndarray]],
                    photos: Sequence[tuple[str, np.ndarray]] = (), band: int = DEFAULT_BAND,
                    weights: str = "not recorded", progress: Callable[[str], None] | None = None) -> dict:
    """The report as a JSON-ready dict (see module doc). ``composites``: (image uint8, alpha float)."""
    from .._lazy import require
    from ..runtime.ort_session import OrtSession

    ort_version = require("onnxruntime", "the accuracy report").__version__

    from ..trimap import from_alpha, from_rough_mask

    images = [c[0] for c in composites]
    truths = [c[1] for c in composites]
    photo_images = [p[1] for p in photos]
    # for trimap graphs: the composites' trimaps from ground truth, the photos' from their outline
    trimaps = [from_alpha(t, band) for t in truths]
    photo_trimaps = [from_rough_mask(p) for p in photo_images]
    say = progress or (lambda _msg: None)

    say(f"fp32: {reference}")
    ref_alphas, ref_seconds, ref_photos, _ = _run(OrtSession, reference, images, photo_images, trimaps, photo_trimaps)
    fp32 = GraphAccuracy("fp32", reference, "fp32", None, _graph_size(reference), ref_seconds,
                         metrics=_mean_metrics(ref_alphas, truths, band))
    results = [fp32]
    roles = _conv_roles(reference)
    for cand in candidates:
        say(f"{cand.label}: {cand.path}")
        alphas, seconds, photo_alphas, metadata = _run(OrtSession, cand.path, images, photo_images, trimaps, photo_trimaps)
        metrics = _mean_metrics(alphas, truths, band)
        relative = {r: {m: (metrics[r][m] - fp32.metrics[r][m]) / fp32.metrics[r][m] if fp32.metrics[r][m] else 0.0
                        for m in METRICS} for r in REGIONS}
        goal = {}
        if cand.precision in SAD_GOALS:
            limit = SAD_GOALS[cand.precision]
            goal = {"metric": "sad (band) relative to fp32", "limit": limit,
                    "value": relative["band"]["sad"], "met": abs(relative["band"]["sad"]) <= limit}
        results.append(GraphAccuracy(
            cand.label, cand.path, cand.precision, cand.method, _graph_size(cand.path), seconds, metrics, relative,
            _delta([np.abs(a - r) for a, r in zip(alphas, ref_alphas)]),
            _delta([np.abs(a - r) for a, r in zip(photo_alphas, ref_photos)]), goal, metadata.get(INT8_BODY),
            cand.quantizer, *_qdq_by_role(cand.path, roles), cand.seconds, cand.peak_rss_bytes))
    return {
        "trtmatte_version": __version__,
        "backend": f"onnxruntime {ort_version} CPU ({os.cpu_count()} cores, {platform.machine()})",
        "fp16_note": "float16 nodes without an onnxruntime CPU kernel are computed in float32 between float16 casts",
        "int8_note": "INT8 graphs on a float16 body: their float16 QuantizeLinear nodes run in float32, because "
                     "onnxruntime truncates float16 ones instead of rounding (trtmatte/contract/ort_rounding.py)",
        "weights": weights,
        "composites": len(composites),
        "composite_sizes": sorted({f"{im.shape[0]}x{im.shape[1]}" for im in images}),
        "photos": [p[0] for p in photos],
        "band_px": band,
        "metrics_note": "SAD, Grad, Conn divided by 1000 (DIM convention); means over composites",
        "graphs": [asdict(r) for r in results],
    }


def report_on_held_out(reference: str, candidates: Sequence[Candidate], held_out: Sequence, count: int,
                       with_photos: bool = True, band: int = DEFAULT_BAND,
                       progress: Callable[[str], None] | None = None) -> dict:
    """:func:`accuracy_report` on the first ``count`` samples of a held-out composite set (and
    scikit-image's photos unless ``with_photos`` is False), labelled with the source's weights."""
    from ..contract.graphio import read_metadata_file
    from ..contract.names import VARIANT, WEIGHTS_PROVENANCE
    from ..data import load_sample

    composites = [load_sample(s) for s in held_out[:count]]
    photos = []
    if with_photos:
        from ..data.photos import named_photos

        photos = named_photos(max_side=800)
    meta = read_metadata_file(reference)
    weights = meta.get(WEIGHTS_PROVENANCE) or "not recorded in the graph"
    return accuracy_report(reference, candidates, composites, photos, band=band,
                           weights=f"{meta.get(VARIANT, '?')}: {weights}", progress=progress)


def format_report(report: dict) -> str:
    """A fixed-width table: one row per graph."""
    head = (f"{'graph':<28} {'MB':>6} {'SAD band':>9} {'dSAD':>7} {'MSE band':>9} {'Grad':>7} {'Conn':>7} "
            f"{'SAD full':>9} {'max|d|':>7} {'p99|d|':>7} {'photos max':>10} goal")
    lines = [f"{report['backend']}; {report['composites']} held-out composites {', '.join(report['composite_sizes'])}; "
             f"photos: {', '.join(report['photos']) or 'none'}; weights: {report['weights']}", head]
    for g in report["graphs"]:
        band, full = g["metrics"]["band"], g["metrics"]["full"]
        rel = g["relative"].get("band", {}).get("sad")
        goal = g["goal"]
        lines.append(
            f"{g['label']:<28} {g['size_bytes'] / 2**20:>6.1f} {band['sad']:>9.4f} "
            f"{'' if rel is None else f'{rel * 100:+.2f}%':>7} {band['mse']:>9.5f} {band['grad']:>7.4f} "
            f"{band['conn']:>7.4f} {full['sad']:>9.4f} "
            f"{g['delta_composites'].get('max', 0):>7.4f} {g['delta_composites'].get('p99', 0):>7.4f} "
            f"{g['delta_photos'].get('max', 0):>10.4f} "
            + ("" if not goal else f"{'met' if goal['met'] else 'MISSED'} (|dSAD| <= {goal['limit'] * 100:.1f}%)")
            + ("" if not g.get("int8_convs") or g["precision"] != "int8" else
               f"; int8 convs {', '.join(f'{r} {v}' for r, v in g['int8_convs'].items())}, {g['qdq_nodes']} Q/DQ")
            + ("" if not g.get("conversion_seconds") else
               f"; {g['conversion_seconds']:.0f} s, peak {g['peak_rss_bytes'] / 2**30:.2f} GB"))
    return "\n".join(lines)
