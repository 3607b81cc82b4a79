"""INT8 explicit quantization (Q/DQ) of the whole-pipeline graph, in the form TensorRT fuses.

TensorRT 10+/11 and TensorRT-RTX have no implicit (calibrator) INT8 any more: a strongly typed
network takes its INT8 from QuantizeLinear/DequantizeLinear pairs in the ONNX (docs/design.md). The
activation ranges are computed on the CPU as streaming statistics within a memory budget
(calibration_stats.py, with onnxruntime's histogram collector), and onnxruntime's ``QDQQuantizer``
writes the Q/DQ pairs from them. Settings:

* weights per output channel (axis 0), activations per tensor, both symmetric int8 (zero point
  0: TensorRT supports nothing else); biases stay float (TensorRT folds them itself);
* Q/DQ only in front of Conv inputs and weights. Conv outputs are not quantized: TensorRT
  fuses DQ -> Conv (-> ReLU -> Q of the next Conv) itself. Where a quantized Conv's input is
  also read by another node (a Resize, an excluded Conv), that reader is rewired to the float
  tensor, because onnxruntime hands every reader the fake-quantized value;
* a few layers stay in higher precision (``exclude``): by default the encoder stem (it reads
  the raw mean-subtracted pixels), the fusion net's RGB conv (the same input) and the three logit
  convs (their error goes straight into F, B and beta). They are found structurally
  (contract/anatomy.py); node names may be given too;
* ``body="fp16"`` (default for TensorRT): everything of the network body that is not int8 runs in
  float16, as FP16 graphs do (fp16.py), the strongly typed equivalent of ``trtexec --fp16 --int8``.
  Calibration and Q/DQ placement run on the float32 graph, then the body (with its Q/DQ) is
  converted: Q/DQ scales become float16, which needs opset 19 (QuantizeLinear-19 takes float16),
  so the graph's opset is raised to 19. Scales below float16's smallest normal number (2^-14) are
  raised to it first, and the int8 weights of such channels requantized, so no scale underflows
  to a subnormal or zero. Without it (``body="fp32"``) the excluded convs and everything between
  the int8 convs stay float32: measured on the bundled lite model with TensorRT-RTX, that INT8
  plan was larger than the FP16 one (docs/precision.md).

Calibration feeds ``calibration_images`` (uint8 HxWx3, all one size, batch 1) through the whole
pipeline graph, so activation ranges are those of the real pre-processing. A graph with a
``trimap`` input is fed ``calibration_trimaps`` with them (`trtmatte quantize` makes them from the
composites' ground-truth alpha), or, without those, each image's rough-outline trimap
(trtmatte.trimap.from_rough_mask).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._lazy import require
from ..errors import TrtmatteError
from ..contract.graphio import load_onnx, save_derived
from ..contract.names import CALIBRATION, IMAGE, INT8_BODY, INT8_TARGET, PRECISION, QUANTIZER, TRIMAP
from ..fileio import check_writable
from ..contract.anatomy import ROLES, analyse, name_nodes

# trtmatte name -> onnxruntime.quantization.CalibrationMethod member
CALIBRATION_METHODS = {"max": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
DEFAULT_EXCLUDE = ROLES  # stem, logits, image_convs
INT8_TARGETS = ("tensorrt", "onnxruntime")
INT8_BODIES = ("fp16", "fp32")  # the float precision of an INT8 graph's non-quantized body
FP16_SCALE_MIN = 2.0**-14  # smallest normal float16: a Q/DQ scale below it loses precision or becomes 0
QDQ_OPSET = 19  # QuantizeLinear/DequantizeLinear with float16 scales
DEFAULT_MAX_MEMORY = 2.5 * 2**30  # bytes of resident memory calibration plans for (calibration_stats.py)


@dataclass
class INT8Report:
    path: str
    method: str
    calibration_images: int
    image_shape: tuple[int, int, int]
    quantized_convs: int
    excluded: tuple[str, ...]
    readers_rewired: int
    seconds: float
    size_bytes: int
    body: str = "fp32"  # precision of the non-quantized body (INT8_BODIES)
    scales_raised: int = 0  # Q/DQ scale values raised to FP16_SCALE_MIN for the float16 body
    calibration_seconds: float = 0.0
    calibration_passes: int = 1  # runs over the images, each with a group of tensors (calibration_stats.py)
    peak_rss_bytes: int = 0  # this process's peak resident size when calibration ended


def _check_images(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    images = list(images)
    if not images:
        raise TrtmatteError("no calibration images: pass at least one uint8 HxWx3 image (a few real photos)")
    shape = None
    for i, image in enumerate(images):
        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise TrtmatteError(f"calibration image {i} is {image.dtype} {image.shape}, expected uint8 HxWx3 RGB")
        if shape is not None and image.shape != shape:
            raise TrtmatteError(f"calibration image {i} is {image.shape[0]}x{image.shape[1]}, the first is "
                                f"{shape[0]}x{shape[1]}: resize or crop them to one size")
        shape = image.shape
    return [np.ascontiguousarray(im) for im in images]


def _resolve_exclude(anatomy, exclude: Iterable[str]) -> tuple[str, ...]:
    names: list[str] = []
    for item in exclude:
        if item in ROLES:
            names.extend(anatomy.role(item))
        elif item in anatomy.convs:
            names.append(item)
        else:
            raise TrtmatteError(f"cannot exclude {item!r}: not a role ({', '.join(ROLES)}) "
                                "nor a Conv node of the network body")
    return tuple(dict.fromkeys(names))


def _calibration_trimaps(model, images: list[np.ndarray], trimaps) -> list[np.ndarray] | None:
    """The trimaps fed with the images when the graph takes one (None when it does not)."""
    if TRIMAP not in {i.name for i in model.graph.input}:
        return None
    if trimaps is None:
        from ..trimap import from_rough_mask

        return [from_rough_mask(image) for image in images]
    trimaps = [np.ascontiguousarray(t, dtype=np.uint8) for t in trimaps]
    if len(trimaps) != len(images) or any(t.shape != im.shape[:2] for t, im in zip(trimaps, images)):
        raise TrtmatteError("calibration trimaps must be one uint8 HxW trimap per calibration image, at its size")
    return trimaps


# Histogram sizes. onnxruntime's entropy default (128 bins, 128 quantized bins) leaves a single
# candidate threshold, the maximum, so "entropy" would silently equal "max". 512 bins give 193
# candidates; more (TensorRT uses 2048) make onnxruntime's pure-Python KL search take minutes
# (2048/256: 400 s for late_fusion_lite on 2 cores, against 50 s here).
HISTOGRAM_OPTIONS = {
    "max": {},
    "entropy": {"num_bins": 512, "num_quantized_bins": 128},
    "percentile": {"num_bins": 2048},
}


def _calibrate(model, tmp: Path, images: list[np.ndarray], method: str, percentile: float, quantized: list[str],
               for_trt: bool, trimaps: list[np.ndarray] | None, max_memory: int):
    """Activation ranges of the quantized Convs' inputs (and outputs, for onnxruntime's kernels),
    from the whole-pipeline graph run on ``images``, as streaming statistics within ``max_memory``
    (calibration_stats.py): (onnxruntime TensorsData, CalibrationStats)."""
    from .calibration_stats import calibrated_tensors, streaming_ranges

    tensors = calibrated_tensors(model, quantized, outputs_too=not for_trt)
    return streaming_ranges(model, tmp, tensors, images, trimaps, method, percentile, for_trt,
                            HISTOGRAM_OPTIONS[method], max_memory, IMAGE, TRIMAP)


def _with_shapes(model, tmp: Path):
    """The quantizer reads tensor types from value_info: infer them (on disk: no 2 GB limit)."""
    onnx = require("onnx")
    path, inferred = tmp / "shapes.onnx", tmp / "shapes-inferred.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="shapes.onnx.data")
    onnx.shape_inference.infer_shapes_path(str(path), str(inferred))
    return onnx.load(str(inferred))


@contextlib.contextmanager
def _quiet_onnxruntime_logging():
    """The calibrators print progress to stdout, and onnxruntime.quantization logs on the root
    logger (whose first use calls basicConfig, installing a handler for good): keep the progress out
    of the caller's output and the root logger as it was, without swallowing real warnings."""
    root = logging.getLogger()
    handler = None
    if not root.handlers:  # keep basicConfig from installing a permanent handler
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if handler is not None:
            root.removeHandler(handler)


def _float_readers_only_for_convs(graph, quantized: set[str]) -> int:
    """Rewire readers of an activation DQ that are not quantized Convs (input 0) to the float
    tensor; drop Q/DQ pairs left without readers. Returns the number of readers rewired."""
    inits = {i.name for i in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    source = {}  # DQ output -> float tensor the Q reads
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] not in inits:
            q = producer[node.input[0]]
            source[node.output[0]] = q.input[0]
    rewired = 0
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in source and not (node.name in quantized and i == 0):
                node.input[i] = source[name]
                rewired += 1
    used = {name for n in graph.node for name in n.input} | {o.name for o in graph.output}
    dead_dq = {n.name for n in graph.node if n.op_type == "DequantizeLinear" and n.output[0] in source
               and n.output[0] not in used}
    dead_q = {producer[n.input[0]].name for n in graph.node if n.name in dead_dq}
    keep = [n for n in graph.node if n.name not in dead_dq | dead_q]
    del graph.node[:]
    graph.node.extend(keep)
    return rewired


def _fp16_safe_scales(graph) -> int:
    """Raise Q/DQ scales below FP16_SCALE_MIN to it (float16 would store them as subnormals, or 0).
    A weight channel's int8 values are requantized for its new scale, so q * scale still gives the
    weights; an activation scale that small only makes steps coarser than the values it covers.
    Returns how many scale values changed."""
    numpy_helper = require("onnx.numpy_helper")
    inits = {i.name: i for i in graph.initializer}
    changed, done = 0, set()
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or node.input[1] in done:
            continue
        done.add(node.input[1])
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        low = scale < FP16_SCALE_MIN
        if not low.any():
            continue
        new_scale = np.where(low, np.float32(FP16_SCALE_MIN), scale).astype(np.float32)
        if node.op_type == "DequantizeLinear" and node.input[0] in inits:  # int8 weights, per channel (axis 0)
            q = numpy_helper.to_array(inits[node.input[0]])
            shape = (-1,) + (1,) * (q.ndim - 1) if scale.ndim == 1 else ()
            weights = q.astype(np.float32) * scale.reshape(shape)
            requantized = np.clip(np.round(weights / new_scale.reshape(shape)), -127, 127).astype(q.dtype)
            inits[node.input[0]].CopyFrom(numpy_helper.from_array(requantized, node.input[0]))
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(new_scale, node.input[1]))
        changed += int(low.sum())
    return changed


def _raise_opset(model, version: int):
    """``model`` at opset ``version`` (>= 19). From opset 18 only the number changes: every op that
    changed in 19 (Cast, Resize, Pad, AveragePool, Q/DQ, Shape, ...) only gained types, modes or
    attributes, so an opset-18 node means the same at 19. Older graphs (trtmatte exports opset 17
    with --opset 17) go through onnx's version converter, because opset 18 moved Reduce*'s axes
    and Split's sizes from attributes to inputs."""
    current = next((e.version for e in model.opset_import if e.domain in ("", "ai.onnx")), version)
    if current >= version:
        return model
    if current < 18:
        version_converter = require("onnx.version_converter", "INT8 quantization with a float16 body")
        return version_converter.convert_version(model, version)
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = version
    return model


def quantize_int8(src: str | os.PathLike, dst: str | os.PathLike, calibration_images: Sequence[np.ndarray],
                  method: str = "max", exclude: Iterable[str] = DEFAULT_EXCLUDE,
                  percentile: float = 99.999, target: str = "tensorrt",
                  calibration_trimaps: Sequence[np.ndarray] | None = None, body: str | None = None,
                  max_memory: float = DEFAULT_MAX_MEMORY) -> INT8Report:
    """Write ``dst``: ``src`` with Q/DQ in front of every body Conv not in ``exclude``.

    ``target="tensorrt"`` (default) places Q/DQ as TensorRT fuses it (see the module doc).
    ``target="onnxruntime"`` makes the graph onnxruntime's CPU kernels run in int8: Conv outputs
    are quantized too and activations are asymmetric uint8, so DQ -> Conv -> Q fuses into
    QLinearConv. Measured on late_fusion_lite at 800x800 on 2 cores: 2.9 s against 4.2 s FP32,
    while the TensorRT placement runs slower than FP32 there (6.0 s: onnxruntime dequantizes
    the weights and convolves in float).

    ``body``: the float precision of what is not int8 (see the module doc); default fp16 for
    TensorRT, fp32 for onnxruntime (its QLinearConv path runs between float32 tensors).

    ``max_memory``: bytes of resident memory the calibration plans its tensor groups for."""
    if target not in INT8_TARGETS:
        raise TrtmatteError(f"unknown INT8 target {target!r}: use one of {', '.join(INT8_TARGETS)}")
    body = body or ("fp16" if target == "tensorrt" else "fp32")
    if body not in INT8_BODIES:
        raise TrtmatteError(f"unknown INT8 body precision {body!r}: use one of {', '.join(INT8_BODIES)}")
    if body == "fp16" and target != "tensorrt":
        raise TrtmatteError("an fp16 body is for TensorRT's int8 kernels: use --int8-body fp32 with --target onnxruntime")
    for_trt = target == "tensorrt"
    ort_quant = require("onnxruntime.quantization", "INT8 calibration")
    start = time.perf_counter()
    if method not in CALIBRATION_METHODS:
        raise TrtmatteError(f"unknown calibration method {method!r}: use one of {', '.join(CALIBRATION_METHODS)}")
    images = _check_images(calibration_images)
    check_writable(dst)
    model = load_onnx(src, "INT8 quantization")
    name_nodes(model.graph)
    anatomy = analyse(model, str(src))
    trimaps = _calibration_trimaps(model, images, calibration_trimaps)
    excluded = _resolve_exclude(anatomy, exclude)
    quantized = [c for c in anatomy.convs if c not in excluded]
    options = {
        "ActivationSymmetric": for_trt, "WeightSymmetric": True, "QuantizeBias": not for_trt,
        "QDQOpTypePerChannelSupportToAxis": {"Conv": 0},
        **({"OpTypesToExcludeOutputQuantization": ["Conv"]} if for_trt else {}),
    }
    activation_type = ort_quant.QuantType.QInt8 if for_trt else ort_quant.QuantType.QUInt8
    with tempfile.TemporaryDirectory(prefix="trtmatte-int8-") as tmp, _quiet_onnxruntime_logging():
        try:
            calibration_start = time.perf_counter()
            ranges, stats = _calibrate(model, Path(tmp), images, method, percentile, quantized, for_trt, trimaps,
                                       int(max_memory))
            calibration_seconds = time.perf_counter() - calibration_start
            named = _with_shapes(model, Path(tmp))
            quantizer = ort_quant.QDQQuantizer(
                named, True, False, ort_quant.QuantType.QInt8, activation_type, ranges,
                quantized, [], ["Conv"], options)  # per_channel, reduce_range, weights, activations
            quantizer.quantize_model()
            quantizer.model.topological_sort()  # as quantize_static does when saving
        except TrtmatteError:
            raise
        except Exception as exc:
            raise TrtmatteError(f"INT8 quantization of {src} failed ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
        qmodel = quantizer.model.model
    qmodel.producer_name, qmodel.producer_version = model.producer_name, model.producer_version
    rewired = _float_readers_only_for_convs(qmodel.graph, set(quantized)) if for_trt else 0
    raised = 0
    if body == "fp16":
        from .fp16 import body_to_fp16

        # the Q/DQ pairs sit between body nodes (the stem's and image convs' ones read pre-processing
        # output when those convs are quantized: the converter casts that to float16 for them)
        qdq = {n.name for n in qmodel.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")}
        raised = _fp16_safe_scales(qmodel.graph)
        qmodel = _raise_opset(qmodel, QDQ_OPSET)
        qmodel = body_to_fp16(qmodel, set(anatomy.body) | qdq)[0]
    size = save_derived(qmodel, dst, "the int8 graph",
                        {PRECISION: "int8", CALIBRATION: f"{method}, {len(images)} images "
                                                         f"{images[0].shape[0]}x{images[0].shape[1]}",
                         INT8_TARGET: target, INT8_BODY: body, QUANTIZER: "trtmatte"})
    return INT8Report(path=str(dst), method=method, calibration_images=len(images), image_shape=images[0].shape,
                      quantized_convs=len(quantized), excluded=excluded, readers_rewired=rewired,
                      seconds=time.perf_counter() - start, size_bytes=size, body=body, scales_raised=raised,
                      calibration_seconds=calibration_seconds, calibration_passes=stats.passes,
                      peak_rss_bytes=stats.peak_rss_bytes)
