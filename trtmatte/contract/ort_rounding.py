"""INT8 graphs with a float16 body, run by onnxruntime as the ONNX standard defines them.

QuantizeLinear rounds x / scale to the nearest integer, ties to even. onnxruntime's CPU kernel
for float16 inputs (1.24.2 here, and releases up to at least 1.29) converts x / scale to an
integer by truncation instead: every value moves towards zero by up to one step
(microsoft/onnxruntime issues 18576 and 22741; fixed by pull request 32452). float32 inputs are
rounded correctly. An INT8 graph quantized on a float16 body (`trtmatte quantize`'s default for
TensorRT) puts a float16 QuantizeLinear in front of every int8 convolution, so onnxruntime would
add a systematic error TensorRT does not make: on the trained demo model's percentile INT8 graph,
mean |alpha error| 0.072 on five photos instead of 0.0094 (docs/results.md).

:func:`quantize_in_float32` rewrites each float16 QuantizeLinear as ``Cast(float32) ->
QuantizeLinear`` with the same scale in float32. float16 -> float32 is exact and float16 scales
are exact in float32, so the rewritten node computes what the standard asks of the original; the
Q/DQ pairs, the int8 values, the DequantizeLinear (float16 out) and every other node are untouched.
Only onnxruntime sessions get the rewrite; the file on disk (what TensorRT builds) keeps its Q/DQ
exactly as written.
"""
from __future__ import annotations

from .._lazy import require
from .names import INT8_BODY, METADATA_PREFIX

SUFFIX = "_as_float32"
# what a refusal says (the C++ library's ONNX Runtime backend words it the same way)
FLOAT16_BODY = ("is an INT8 graph with a float16 body (made for TensorRT), and onnxruntime's float16 "
                "QuantizeLinear truncates instead of rounding")


def has_float16_body(metadata_props: dict[str, str]) -> bool:
    """Whether a graph's metadata_props (as onnxruntime hands them out: keys with the ``trtmatte.``
    prefix) say it is INT8 on a float16 body, i.e. has float16 QuantizeLinear nodes."""
    return metadata_props.get(METADATA_PREFIX + INT8_BODY) == "fp16"


def quantize_in_float32(model) -> int:
    """Rewrite ``model``'s float16 QuantizeLinear nodes in place (see the module doc); returns
    how many were rewritten."""
    onnx = require("onnx", "running a float16-body INT8 graph in onnxruntime")
    numpy_helper = require("onnx.numpy_helper")
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    added: dict[str, str] = {}  # float16 scale -> its float32 copy (shared scales are copied once)
    nodes, rewritten = [], 0
    for node in graph.node:
        scale = inits.get(node.input[1]) if node.op_type == "QuantizeLinear" and len(node.input) > 1 else None
        if scale is None or scale.data_type != onnx.TensorProto.FLOAT16:
            nodes.append(node)
            continue
        if scale.name not in added:
            copy = numpy_helper.from_array(numpy_helper.to_array(scale).astype("float32"), scale.name + SUFFIX)
            graph.initializer.append(copy)
            added[scale.name] = copy.name
        cast_out = node.input[0] + SUFFIX + f"_{rewritten}"
        nodes.append(onnx.helper.make_node("Cast", [node.input[0]], [cast_out], name=node.name + SUFFIX if node.name else "",
                                           to=onnx.TensorProto.FLOAT))
        node.input[0], node.input[1] = cast_out, added[scale.name]
        nodes.append(node)
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
    return rewritten
