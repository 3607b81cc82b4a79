"""The same conversions by NVIDIA's own tool: ModelOpt's ONNX PTQ (INT8) and AutoCast (FP16).

``trtmatte quantize --quantizer modelopt`` runs ``modelopt.onnx.quantization.quantize`` (Q/DQ
placed by ModelOpt's TensorRT-guided rules, ORT calibration on the CPU, float parts converted to
float16 as ``high_precision_dtype="fp16"``) or ``modelopt.onnx.autocast.convert_to_f16`` on the
same exported graph and calibration images as trtmatte's own path, and saves the result by the
exporter's rules with the source's metadata and the same stamps (precision, calibration) plus
``quantizer=modelopt``, so build, OrtSession, the report and the C++ library take it as any graph.

ModelOpt is installed without its ``[onnx]`` extra (it pins onnxruntime-gpu and CuPy on x86-64,
which collide with the CPU onnxruntime wheel): the ``modelopt`` extra of trtmatte lists the pure
pieces its ONNX PTQ imports (docs/install.md).

* Placement: by default Q/DQ go in front of Convs only, like trtmatte's (``op_types_to_quantize=
  ["Conv"]``, without the ``concat_elimination`` pass, which would tie the scale of a Concat's
  output to those of its inputs that feed Convs too). ModelOpt's own TensorRT-guided rules also
  quantize pools, Concat, Add and Resize; on the bundled model they give the largest |Δα| and the
  worst Grad of the INT8 graphs (docs/precision.md), so ``op_types=None``
  (``--modelopt-op-types auto``) keeps them for comparison only.
* Calibration methods: ModelOpt's INT8 has ``max`` and ``entropy`` (onnxruntime's MinMax and
  Entropy calibrators via ``quantize_static``); ``percentile`` is refused in one line.
* ``exclude``: the same Convs trtmatte keeps in float are passed as ``nodes_to_exclude``, so the
  two differ in calibration only (and in placement with ``op_types=None``). The node names are trtmatte's (name_nodes), so
  the graph is handed to ModelOpt as a named copy.
* ModelOpt patches onnxruntime's calibrators to fold each image into running min/max (``max``) or
  histograms (``entropy``): memory follows the image size and the calibrated tensors of one
  image, not the image count, and has no budget like ours.
* Its output is opset 19, domain ai.onnx only; a graph with ops from another domain (a TensorRT
  plugin) is refused, since the CPU calibration cannot run it.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._lazy import require
from ..contract.anatomy import analyse, name_nodes
from ..contract.graphio import load_onnx, save_derived
from ..contract.metadata import read_metadata
from ..contract.names import CALIBRATION, IMAGE, INT8_BODY, INT8_TARGET, PRECISION, QUANTIZER, TRIMAP
from ..errors import TrtmatteError
from ..fileio import check_writable
from .calibration_stats import peak_rss_bytes
from .fp16 import FP16Report

INSTALL = "pip install -c constraints.txt -e '.[modelopt]'"
MODELOPT_METHODS = ("max", "entropy")
CONV_ONLY = ("Conv",)


def import_modelopt(module: str):
    """``module`` of ModelOpt, or a one-line error naming the install command."""
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:  # modelopt raises ImportError naming its [onnx] extra when a piece is missing
        missing = getattr(exc, "name", None) or str(exc).splitlines()[0]
        raise TrtmatteError(f"--quantizer modelopt needs NVIDIA ModelOpt ({missing} is missing): {INSTALL}") from None


@contextlib.contextmanager
def _quiet():
    """ModelOpt logs INFO/WARNING lines on stdout and onnxruntime's calibrators draw progress bars on
    stderr: keep both out of the CLI's output (failures still surface as exceptions)."""
    loggers = [logging.getLogger(n) for n in ("modelopt", "modelopt.onnx", "modelopt.onnx.autocast", "root")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _check_domains(model, src) -> None:
    foreign = sorted({n.domain for n in model.graph.node if n.domain not in ("", "ai.onnx")})
    if foreign:
        raise TrtmatteError(f"{src} has ops of domain {', '.join(foreign)} (a TensorRT plugin), which ModelOpt's CPU "
                            "calibration cannot run: quantize the graph exported without it (--quantizer trtmatte "
                            "handles it the same way)")


def _stamp(qmodel, source, dst, what: str, updates: dict) -> int:
    """Save ``qmodel`` with ``source``'s trtmatte metadata (ModelOpt drops it) and ``updates``."""
    qmodel.producer_name, qmodel.producer_version = source.producer_name, source.producer_version
    del qmodel.metadata_props[:]
    return save_derived(qmodel, dst, what, {**read_metadata(source), **updates, QUANTIZER: "modelopt"})


def quantize_int8_modelopt(src: str | os.PathLike, dst: str | os.PathLike, calibration_images: Sequence[np.ndarray],
                           method: str = "max", exclude: Iterable[str] = (),
                           calibration_trimaps: Sequence[np.ndarray] | None = None,
                           op_types: Sequence[str] | None = CONV_ONLY):
    """Write ``dst``: ModelOpt's INT8 Q/DQ graph of ``src`` (float parts float16), calibrated on
    ``calibration_images`` (uint8 HxWx3, one size), with Q/DQ in front of the inputs of the
    ``op_types`` nodes (None: ModelOpt's own placement and passes). Returns an int8.INT8Report."""
    from .int8 import INT8Report, _calibration_trimaps, _check_images, _resolve_exclude

    if method not in MODELOPT_METHODS:
        raise TrtmatteError(f"ModelOpt's INT8 calibration has no {method!r} method: use --method "
                            f"{' or '.join(MODELOPT_METHODS)} with --quantizer modelopt")
    onnx = require("onnx")
    quantization = import_modelopt("modelopt.onnx.quantization")
    start = time.perf_counter()
    images = _check_images(calibration_images)
    check_writable(dst)
    model = load_onnx(src, "INT8 quantization")
    _check_domains(model, src)
    name_nodes(model.graph)
    anatomy = analyse(model, str(src))
    trimaps = _calibration_trimaps(model, images, calibration_trimaps)
    excluded = _resolve_exclude(anatomy, exclude)
    data = {IMAGE: np.stack(images)}
    if trimaps is not None:
        data[TRIMAP] = np.stack(trimaps)
    # op_types_to_quantize is extended in place by ModelOpt: hand it a fresh list
    placement = {} if op_types is None else {"op_types_to_quantize": list(op_types), "passes": []}
    with tempfile.TemporaryDirectory(prefix="trtmatte-modelopt-") as tmp, _quiet():
        named, out = Path(tmp) / "named.onnx", Path(tmp) / "modelopt.onnx"
        onnx.save_model(model, str(named), save_as_external_data=True, location="named.onnx.data")
        try:
            quantization.quantize(str(named), quantize_mode="int8", calibration_data=data, calibration_method=method,
                                  calibration_eps=["cpu"], nodes_to_exclude=list(excluded) or None,
                                  high_precision_dtype="fp16", use_external_data_format=True,
                                  output_path=str(out), log_level="ERROR", **placement)
        except TrtmatteError:
            raise
        except Exception as exc:
            raise TrtmatteError(f"ModelOpt INT8 quantization of {src} failed ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
        qmodel = onnx.load(str(out))
    seconds = time.perf_counter() - start
    # ModelOpt keeps weights float behind a Q/DQ pair (TensorRT folds it into int8 weights)
    dq = {n.output[0] for n in qmodel.graph.node if n.op_type == "DequantizeLinear"}
    quantized = sum(1 for n in qmodel.graph.node if n.op_type == "Conv" and n.input[1] in dq)
    size = _stamp(qmodel, model, dst, "the modelopt int8 graph",
                  {PRECISION: "int8", CALIBRATION: f"{method}, {len(images)} images "
                                                   f"{images[0].shape[0]}x{images[0].shape[1]}, "
                                                   f"q/dq on {'+'.join(op_types) if op_types else 'modelopt rules'}",
                   INT8_TARGET: "tensorrt", INT8_BODY: "fp16"})
    return INT8Report(path=str(dst), method=method, calibration_images=len(images), image_shape=images[0].shape,
                      quantized_convs=int(quantized), excluded=excluded, readers_rewired=0,
                      seconds=time.perf_counter() - start, size_bytes=size, body="fp16",
                      calibration_seconds=seconds, calibration_passes=1, peak_rss_bytes=peak_rss_bytes())


def convert_fp16_modelopt(src: str | os.PathLike, dst: str | os.PathLike) -> FP16Report:
    """Write ``dst``: ``src`` converted by ModelOpt's AutoCast (``convert_to_f16``, inputs and
    outputs kept in their types). It converts the whole graph, pre- and post-processing included,
    where trtmatte's own conversion keeps those in float32 (fp16.py)."""
    autocast = import_modelopt("modelopt.onnx.autocast")
    start = time.perf_counter()
    check_writable(dst)
    model = load_onnx(src, "FP16 conversion")
    _check_domains(model, src)
    name_nodes(model.graph)
    anatomy = analyse(model, str(src))
    source = type(model)()
    source.CopyFrom(model)
    nodes_before = len(model.graph.node)
    with _quiet():
        try:
            converted = autocast.convert_to_f16(model, low_precision_type="fp16", keep_io_types=True)
        except Exception as exc:
            raise TrtmatteError(f"ModelOpt FP16 conversion of {src} failed ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    size = _stamp(converted, source, dst, "the modelopt fp16 graph", {PRECISION: "fp16"})
    fp16_convs = sum(1 for n in converted.graph.node if n.op_type == "Conv")
    return FP16Report(path=str(dst), body_nodes=len(anatomy.body), fp16_convs=fp16_convs,
                      casts_added=len(converted.graph.node) - nodes_before, round_trips_removed=0,
                      weights_out_of_range=0, seconds=time.perf_counter() - start, size_bytes=size)
