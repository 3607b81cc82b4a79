"""Read and stamp trtmatte's ``metadata_props`` on ONNX models, and tell a graph's precision.

Functions take an in-memory ``onnx.ModelProto`` (``graphio.read_metadata_file`` reads a file
without its weights: files are graphio's, which imports this module, never the other way round).
onnx is imported only by the functions that need it.
"""
from __future__ import annotations

from .names import METADATA_PREFIX, PRECISION


def read_metadata(model) -> dict[str, str]:
    """trtmatte's entries of ``model.metadata_props``, keys without the ``trtmatte.`` prefix."""
    return {p.key[len(METADATA_PREFIX):]: p.value for p in model.metadata_props if p.key.startswith(METADATA_PREFIX)}


def stamp_metadata(model, entries: dict[str, str]) -> None:
    """Replace every trtmatte entry of ``model`` with ``entries`` (other producers' keys stay)."""
    keep = [p for p in model.metadata_props if not p.key.startswith(METADATA_PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for key, value in entries.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = f"{METADATA_PREFIX}{key}", value


def stamped_precision(metadata: dict[str, str]) -> str:
    """fp32 / fp16 / int8 as `trtmatte quantize` stamped it; exported graphs are fp32."""
    return metadata.get(PRECISION, "fp32")


def graph_precision(model) -> str:
    """fp32 / fp16 / int8 from the graph itself: Q/DQ nodes mean int8, float16 weights fp16.
    What a strongly typed TensorRT network will run (it takes precision from the tensors)."""
    from .._lazy import require

    onnx = require("onnx", "reading the ONNX graph")
    ops = {n.op_type for n in model.graph.node}
    if "QuantizeLinear" in ops or "DequantizeLinear" in ops:
        return "int8"
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer):
        return "fp16"
    return "fp32"
