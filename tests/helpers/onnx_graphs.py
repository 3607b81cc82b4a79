"""One-node ONNX graphs built with onnx.helper, for tests of the contract's file and metadata rules."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper


def add_graph(dtype=np.float32, ops=("Add",)):
    """x (one element) -> each op with weight w (and zero point z for Q/DQ ops) -> y; opset 19."""
    nodes = [helper.make_node(op, ["x", "w"] if op == "Add" else ["x", "w", "z"], ["y"], name=op) for op in ops]
    elem = TensorProto.FLOAT16 if dtype == np.float16 else TensorProto.FLOAT
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", elem, [1])],
                              [helper.make_tensor_value_info("y", elem, [1])],
                              [numpy_helper.from_array(np.ones(1, dtype), "w"), numpy_helper.from_array(np.int8(0), "z")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
