"""The JSON that `trtmatte bench --json` writes (schema ``trtmatte.bench/1``).

Top-level keys (all present; ``null`` where a measurement does not apply):

- ``schema``: "trtmatte.bench/1".
- ``label``: one line, e.g. "onnxruntime 1.24.2 fp32 on cpu (2 cores), 800x800, batch 1".
- ``session``: {backend, precision, device, variant, backend_version}. ``backend`` is the one that
  produced every figure: "tensorrt" only when TensorRT ran.
- ``weights``: where the weights came from ("randomly initialised ..." for timing-only runs) or null.
- ``input``: {height, width, batch}.
- ``versions``: {trtmatte, tensorrt, tensorrt_rtx, onnxruntime, torch, cuda-python, numpy} (null if absent).
- ``machine``: {platform, processor, cpu_cores, python}.
- ``warmup``, ``runs``: counts; ``duration_s``: wall time of the timed runs.
- ``latency_s``: stats of one call (a whole batch): {mean, std, min, p50, p90, p95, p99, max}.
- ``samples_s``: every timed call, in order.
- ``per_image_s``: mean latency / batch; ``images_per_s``: batch / mean latency.
- ``split_s``: GPU backends: {h2d, compute, d2h}, each stats like ``latency_s``, from CUDA events; else null.
- ``paper``: {seconds_per_image: 0.39, size: "800x800", speedup: 0.39 / per_image_s, comparable: bool
  (true only at 800x800)}.
- ``pipelined``: {images, slots, wall_s, images_per_s, serial_images_per_s, compute_bound_images_per_s,
  ratio_to_compute_bound, transfer_hidden_fraction} or null.
- ``transfers``: {device, sizes: [{what, bytes, h2d_pinned_GBps, h2d_pageable_GBps, d2h_pinned_GBps,
  d2h_pageable_GBps}]} or {skipped: reason}.
- ``graphs``: {enabled: bool, errors: [..]}.
- ``notes``: [strings]: anything a reader must know to read the figures right.
"""
from __future__ import annotations

from ..errors import TrtmatteError

SCHEMA_ID = "trtmatte.bench/1"
STATS_KEYS = {"mean", "std", "min", "p50", "p90", "p95", "p99", "max"}
REQUIRED = {"schema": str, "label": str, "session": dict, "weights": (str, type(None)), "input": dict,
            "versions": dict, "machine": dict, "warmup": int, "runs": int, "duration_s": float, "latency_s": dict,
            "samples_s": list, "per_image_s": float, "images_per_s": float, "split_s": (dict, type(None)),
            "paper": dict, "pipelined": (dict, type(None)), "transfers": dict, "graphs": dict, "notes": list}


def validate(result: dict) -> dict:
    """Raise TrtmatteError naming the first key that does not follow the schema; return ``result``."""
    for key, types in REQUIRED.items():
        if key not in result:
            raise TrtmatteError(f"bench result lacks {key!r} ({SCHEMA_ID})")
        if not isinstance(result[key], types):
            raise TrtmatteError(f"bench result {key!r} has type {type(result[key]).__name__} ({SCHEMA_ID})")
    if result["schema"] != SCHEMA_ID:
        raise TrtmatteError(f"bench result schema is {result['schema']!r}, expected {SCHEMA_ID!r}")
    if set(result["latency_s"]) != STATS_KEYS:
        raise TrtmatteError(f"latency_s keys {sorted(result['latency_s'])} differ from {sorted(STATS_KEYS)}")
    if set(result["session"]) != {"backend", "precision", "device", "variant", "backend_version"}:
        raise TrtmatteError("bench result 'session' must hold backend, precision, device, variant, backend_version")
    if result["split_s"] is not None and set(result["split_s"]) != {"h2d", "compute", "d2h"}:
        raise TrtmatteError("bench result 'split_s' must hold h2d, compute, d2h")
    if len(result["samples_s"]) != result["runs"]:
        raise TrtmatteError("bench result has a different number of samples_s than runs")
    for key in ("trtmatte", "tensorrt", "onnxruntime", "torch"):
        if key not in result["versions"]:
            raise TrtmatteError(f"bench result versions lack {key!r}")
    return result
