"""FP16 graph for strongly typed TensorRT builds: the network body in float16, the pipeline in float32.

TensorRT 10.x/11.x and TensorRT-RTX build strongly typed networks, so precision must live in the
ONNX tensors (docs/design.md). Only the network body (see contract/anatomy.py) is converted: the
pre-processing works on 0-255 pixel values and resize weights whose products and sums lose
visible precision in float16, and the Sigmoids, blend, resize back and clamp are cheap but set
the final alpha, so they stay float32.

The conversion itself is onnxconverter-common's ``convert_float_to_float16`` with every
non-body node blocked. Three repairs follow, each a known gap of that converter:
* Resize's ``roi``/``scales`` inputs must stay float32 (the ONNX spec), but it converts them;
* a float32 tensor read by several blocked nodes is cast to float16 and back for each reader
  (a pre-processing round trip through float16): those Cast pairs are removed;
* a float32 graph output (``alpha`` exported as float32) made by a blocked node gets a Cast to
  float16 appended, despite ``keep_io_types``: that Cast is removed and the output stays float32;
* values beyond float16's range would be clamped silently: they are counted in the report.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .._lazy import require
from ..contract.graphio import load_onnx, save_derived
from ..contract.names import PRECISION, QUANTIZER
from ..fileio import check_writable
from ..contract.anatomy import analyse, name_nodes

FP16_MAX = 65504.0
FP16_TINY = 2.0**-24  # smallest float16 subnormal: smaller magnitudes round to 0 (or it)
FLOAT, FLOAT16 = 1, 10  # onnx.TensorProto element types


@dataclass
class FP16Report:
    path: str
    body_nodes: int
    fp16_convs: int
    casts_added: int
    round_trips_removed: int
    weights_out_of_range: int  # float16 would clamp these to +-65504
    seconds: float
    size_bytes: int


def _cast_to(node) -> int | None:
    return next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None


def _restore_resize_params(graph, originals: dict[str, np.ndarray]) -> None:
    numpy_helper = require("onnx.numpy_helper")
    inits = {i.name: i for i in graph.initializer}
    for node in graph.node:
        if node.op_type == "Resize":
            for name in node.input[1:3]:
                if name in inits and inits[name].data_type == FLOAT16 and name in originals:
                    inits[name].CopyFrom(numpy_helper.from_array(originals[name], name))


def _drop_round_trips(graph) -> int:
    """Cast(->fp16) then Cast(->fp32) of a float32 tensor: the second's readers read the original."""
    elem = {v.name: v.type.tensor_type.elem_type for v in list(graph.value_info) + list(graph.input)}
    producer = {out: n for n in graph.node for out in n.output}
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}
    dropped = set()
    for node in graph.node:
        first = producer.get(node.input[0]) if node.input else None
        if (_cast_to(node) == FLOAT and first is not None and _cast_to(first) == FLOAT16
                and elem.get(first.input[0]) == FLOAT and node.output[0] not in outputs):
            rename[node.output[0]] = first.input[0]
            dropped.add(node.name)
    keep = [n for n in graph.node if n.name not in dropped]
    for node in keep:
        for i, name in enumerate(node.input):
            node.input[i] = rename.get(name, name)
    used = {name for n in keep for name in n.input} | outputs
    keep = [n for n in keep if not (_cast_to(n) == FLOAT16 and n.output[0] not in used)]  # orphaned Cast16
    removed = len(graph.node) - len(keep)
    del graph.node[:]
    graph.node.extend(keep)
    alive = {o for n in keep for o in n.output}
    stale = [v for v in graph.value_info if v.name not in alive]
    for v in stale:
        graph.value_info.remove(v)
    return removed


def _restore_float_outputs(graph, float_outputs: set[str]) -> None:
    """Outputs that were float32 stay float32: bypass a trailing Cast(->fp16) the converter added."""
    producer = {out: n for n in graph.node for out in n.output}
    for out in graph.output:
        cast = producer.get(out.name)
        if out.name not in float_outputs or cast is None or _cast_to(cast) != FLOAT16:
            continue
        inner = producer.get(cast.input[0])
        if inner is None:
            continue
        inner.output[list(inner.output).index(cast.input[0])] = out.name
        graph.node.remove(cast)
        for v in [v for v in graph.value_info if v.name == cast.input[0]]:
            graph.value_info.remove(v)
        out.type.tensor_type.elem_type = FLOAT


def body_to_fp16(model, body: set[str]):
    """``model`` with the nodes named in ``body`` in float16 and everything else float32 (the
    conversion and its repairs, see the module doc). Returns (model, float32 values that float16
    would clamp, round trips removed). Also used for the float parts of INT8 graphs (int8.py)."""
    float16 = require("onnxconverter_common.float16", "FP16 conversion (pip install onnxconverter-common)")
    numpy_helper = require("onnx.numpy_helper", "FP16 conversion")
    body_inits = {name for n in model.graph.node if n.name in body for name in n.input}
    originals = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer
                 if i.data_type == FLOAT and i.name in body_inits}
    out_of_range = sum(int(np.count_nonzero(np.abs(a) > FP16_MAX)) for a in originals.values())
    float_outputs = {o.name for o in model.graph.output if o.type.tensor_type.elem_type == FLOAT}
    blocked = [n.name for n in model.graph.node if n.name not in body]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one warning per clamped tiny weight; counted above instead
        model = float16.convert_float_to_float16(model, min_positive_val=FP16_TINY, max_finite_val=FP16_MAX,
                                                 keep_io_types=True, op_block_list=[], node_block_list=blocked)
    _restore_resize_params(model.graph, originals)
    _restore_float_outputs(model.graph, float_outputs)
    return model, out_of_range, _drop_round_trips(model.graph)


def convert_fp16(src: str | os.PathLike, dst: str | os.PathLike) -> FP16Report:
    """Write ``dst``: ``src`` with its network body in float16 and its pipeline in float32."""
    require("onnxconverter_common.float16", "FP16 conversion (pip install onnxconverter-common)")
    start = time.perf_counter()
    check_writable(dst)
    model = load_onnx(src, "FP16 conversion")
    name_nodes(model.graph)
    anatomy = analyse(model, str(src))
    nodes_before = len(model.graph.node)
    model, out_of_range, round_trips = body_to_fp16(model, set(anatomy.body))
    size = save_derived(model, dst, "the fp16 graph", {PRECISION: "fp16", QUANTIZER: "trtmatte"})
    return FP16Report(
        path=str(dst), body_nodes=len(anatomy.body), fp16_convs=len(anatomy.convs),
        casts_added=len(model.graph.node) - nodes_before, round_trips_removed=round_trips,
        weights_out_of_range=out_of_range, seconds=time.perf_counter() - start, size_bytes=size)
