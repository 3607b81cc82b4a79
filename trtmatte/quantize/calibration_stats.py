"""Activation ranges for INT8 calibration as streaming statistics, within a memory budget.

onnxruntime's calibrators (``create_calibrator`` + ``collect_data``) make every calibrated tensor
a graph output at once and keep every output of every image they are handed until the call
returns, then stack them; the histogram ones also calibrate every Conv *output*, which a
TensorRT Q/DQ placement never uses. On the bundled lite model at 64 x 512^2 that was > 10 GB.

Here the graph is run image by image with only a group of tensors as extra outputs, and each
tensor's statistic is updated from it and the data dropped:

* ``max``: a running min/max per tensor, exactly what onnxruntime's MinMax calibrator computes;
* ``percentile`` / ``entropy``: onnxruntime's own ``HistogramCollector``, fed one image at a time.
  The histogram's bin width is set by its first call and later calls add bins of that width, so
  it is set by the first image here (by the first 4 images formerly, with ``collect_data`` fed
  4 at a time): thresholds can differ by about a bin (max / 2048 for percentile) from that.

Groups are sized from each tensor's bytes per image, measured on a small crop of the first image
and scaled by area, so that a group and the collector's copies of its largest tensor fit what the
budget leaves after the model and a run's own working memory. A network too big for one pass
over the images gets several (onnxruntime computes only what a pass fetches, so early groups
stop early). The ranges come back as onnxruntime's ``TensorsData``, which ``QDQQuantizer``
writes as Q/DQ scales.
"""
from __future__ import annotations

import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .._lazy import require

PROBE_SIDE = 128  # side of the crop whose activations measure each tensor's bytes per image
# a histogram collector holds a tensor's flattened copy and |x| beside the tensor
COLLECT_COPIES = 2


@dataclass
class CalibrationStats:
    tensors: int
    passes: int
    images: int
    buffer_bytes: int  # the most tensor data held at once by the plan (estimated)
    peak_rss_bytes: int  # this process's peak resident size after calibration (getrusage)


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:  # not Linux: the peak so far is an upper bound
        return peak_rss_bytes()


def calibrated_tensors(model, convs: Sequence[str], outputs_too: bool) -> list[str]:
    """The float activations a Q/DQ placement needs ranges for: the data input of each Conv in
    ``convs`` (and their outputs with ``outputs_too``), in graph order, without initializers."""
    inits = {i.name for i in model.graph.initializer}
    wanted = set(convs)
    names: list[str] = []
    for node in model.graph.node:
        if node.name in wanted:
            names.append(node.input[0])
            if outputs_too:
                names.append(node.output[0])
    return [n for n in dict.fromkeys(names) if n not in inits]


def _session(ort, skeleton, tmp: Path, tensors: Sequence[str], name: str):
    """An onnxruntime session of ``skeleton`` (saved in ``tmp`` with its weights as external data)
    with ``tensors`` as extra outputs. Fully optimised (onnxruntime's calibrators disable graph
    optimisation, which made runs 2x slower here; a fetched tensor is never fused away, and fused
    kernels change values only by float32 rounding); no memory arena, so a run's memory is given
    back after it."""
    onnx = require("onnx")
    model = onnx.ModelProto()
    model.CopyFrom(skeleton)
    known = {o.name for o in model.graph.output}
    for tensor in tensors:
        if tensor not in known:
            model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
    path = tmp / name
    onnx.save_model(model, str(path))
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _feeds(images, trimaps, image_name: str, trimap_name: str):
    for i, image in enumerate(images):
        feed = {image_name: image[None]}
        if trimaps is not None:
            feed[trimap_name] = trimaps[i][None]
        yield feed


def _bytes_per_image(ort, skeleton, tmp: Path, tensors: Sequence[str], image, trimap,
                     image_name: str, trimap_name: str) -> dict[str, int]:
    """Each tensor's bytes for one image of ``image``'s size, from a run on a small crop of it
    scaled by area (activations scale with the image; a fixed-size tensor is overestimated)."""
    h, w = image.shape[:2]
    side = min(PROBE_SIDE, h, w)
    crop = np.ascontiguousarray(image[:side, :side])
    feed = {image_name: crop[None]}
    if trimap is not None:
        feed[trimap_name] = np.ascontiguousarray(trimap[:side, :side])[None]
    session = _session(ort, skeleton, tmp, tensors, "probe.onnx")
    outputs = dict(zip(tensors, session.run(list(tensors), feed)))
    scale = (h * w) / (side * side)
    return {t: int(np.ceil(outputs[t].nbytes * scale)) for t in tensors}


def plan_groups(sizes: dict[str, int], budget: int, copies: int) -> list[list[str]]:
    """Tensors (in order) grouped so that one image's tensors of a group, plus ``copies`` copies
    of its largest one (the collector's), fit ``budget`` bytes; a tensor too big for that alone
    gets a group of its own."""
    groups: list[list[str]] = []
    current: list[str] = []
    held = largest = 0
    for tensor, size in sizes.items():
        need_held, need_largest = held + size, max(largest, size)
        if current and need_held + copies * need_largest > budget:
            groups.append(current)
            current, held, largest = [], 0, 0
            need_held, need_largest = size, size
        current.append(tensor)
        held, largest = need_held, need_largest
    if current:
        groups.append(current)
    return groups


def _histogram_collector(ort_calibrate, method: str, symmetric: bool, percentile: float, options: dict):
    return ort_calibrate.HistogramCollector(
        method=method, symmetric=symmetric, num_bins=options.get("num_bins", 128),
        num_quantized_bins=options.get("num_quantized_bins", 128), percentile=percentile, scenario="same")


def streaming_ranges(model, tmp: Path, tensors: Sequence[str], images: Sequence[np.ndarray],
                     trimaps: Sequence[np.ndarray] | None, method: str, percentile: float, symmetric: bool,
                     histogram_options: dict, max_memory: int, image_name: str, trimap_name: str):
    """(``TensorsData`` of ``tensors``' ranges, :class:`CalibrationStats`), see the module doc.
    ``max_memory``: the process's resident size to stay under; the tensor data held at once is
    planned into what is left of it after the model, its session and one run's working memory."""
    onnx = require("onnx")
    ort = require("onnxruntime", "INT8 calibration")
    ort_calibrate = require("onnxruntime.quantization.calibrate", "INT8 calibration")
    saved = onnx.ModelProto()
    saved.CopyFrom(model)  # saving with external data moves the weights out of the proto it is given
    onnx.save_model(saved, str(tmp / "calibrate.onnx"), save_as_external_data=True, location="calibrate.onnx.data")
    del saved
    skeleton = onnx.load(str(tmp / "calibrate.onnx"), load_external_data=False)

    sizes = _bytes_per_image(ort, skeleton, tmp, tensors, images[0], trimaps[0] if trimaps is not None else None,
                             image_name, trimap_name)
    # one run's own working memory is about the activations it computes, which the sum of the
    # calibrated ones approximates (they are most of them); never plan with less than one tensor
    working = sum(sizes.values()) // 2
    budget = max(max_memory - current_rss_bytes() - working, max(sizes.values(), default=0))
    groups = plan_groups(sizes, budget, 1 if method == "max" else COLLECT_COPIES)

    lows: dict[str, np.ndarray] = {}
    highs: dict[str, np.ndarray] = {}
    collector = None if method == "max" else _histogram_collector(
        ort_calibrate, method, symmetric, percentile, histogram_options)
    buffer_bytes = 0
    for number, group in enumerate(groups):
        buffer_bytes = max(buffer_bytes, sum(sizes[t] for t in group))
        # onnxruntime computes only what the fetched tensors need: a later group's pass skips
        # nothing, an early group's pass stops where its last tensor is made
        session = _session(ort, skeleton, tmp, group, f"pass{number}.onnx")
        for feed in _feeds(images, trimaps, image_name, trimap_name):
            outputs = dict(zip(group, session.run(group, feed)))
            for tensor in group:
                value = outputs.pop(tensor)
                if collector is None:  # shape (1,), as onnxruntime's ReduceMin/ReduceMax -> Reshape([-1])
                    low, high = np.nanmin(value).reshape(1), np.nanmax(value).reshape(1)
                    lows[tensor] = np.minimum(lows[tensor], low) if tensor in lows else low
                    highs[tensor] = np.maximum(highs[tensor], high) if tensor in highs else high
                else:  # an array, not a list: the collector then flattens it without stacking a copy first
                    collector.collect({tensor: value})
                del value
        del session
    stats = CalibrationStats(tensors=len(tensors), passes=len(groups), images=len(images),
                             buffer_bytes=buffer_bytes, peak_rss_bytes=peak_rss_bytes())
    methods = ort_calibrate.CalibrationMethod
    if collector is None:
        ranges = {}
        for tensor in tensors:
            low, high = lows[tensor], highs[tensor]
            if symmetric:  # as onnxruntime's MinMaxCalibrater
                bound = np.nanmax([np.abs(low), np.abs(high)], axis=0)
                ranges[tensor] = (-bound, bound)
            else:
                ranges[tensor] = (low, high)
        return ort_calibrate.TensorsData(methods.MinMax, ranges), stats
    kind = methods.Entropy if method == "entropy" else methods.Percentile
    return ort_calibrate.TensorsData(kind, collector.compute_collection_result()), stats
