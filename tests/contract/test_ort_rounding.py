"""contract/ort_rounding.py: float16 QuantizeLinear rewritten so onnxruntime rounds as the ONNX
standard says (moved here from tests/quantize; a two-node graph, < 1 s)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is needed (pip install -e '.[test]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed")

from onnx import TensorProto, numpy_helper  # noqa: E402

from trtmatte.contract.names import INT8_BODY, METADATA_PREFIX  # noqa: E402
from trtmatte.contract.ort_rounding import has_float16_body  # noqa: E402


def test_float16_body_is_read_from_the_prefixed_metadata():
    assert has_float16_body({METADATA_PREFIX + INT8_BODY: "fp16"})
    assert not has_float16_body({METADATA_PREFIX + INT8_BODY: "fp32"})
    assert not has_float16_body({INT8_BODY: "fp16"})  # onnxruntime hands the keys out with the prefix


def _quantize_dequantize_fp16(scale: float):
    from onnx import helper

    graph = helper.make_graph([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
                               helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")], "qdq",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT16, [None])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [None])],
                              [numpy_helper.from_array(np.array(scale, np.float16), "s"),
                               numpy_helper.from_array(np.int8(0), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


def test_float16_quantize_runs_in_float32_for_onnxruntime():
    """onnxruntime's float16 QuantizeLinear truncates toward zero (contract/ort_rounding.py); the
    rewritten graph rounds to nearest, ties to even, as the standard says, on every one of 4096
    values, and keeps the float16 Q/DQ scale for the DequantizeLinear."""
    from trtmatte.contract.ort_rounding import quantize_in_float32

    scale = np.float16(0.05)
    x = np.random.default_rng(0).uniform(-8, 8, 4096).astype(np.float16)
    expected = np.clip(np.round(x.astype(np.float32) / np.float32(scale)), -128, 127) * scale  # np.round: ties to even
    model = _quantize_dequantize_fp16(float(scale))
    as_is = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert quantize_in_float32(model) == 1
    onnx.checker.check_model(model, full_check=True)
    assert [n.op_type for n in model.graph.node] == ["Cast", "QuantizeLinear", "DequantizeLinear"]
    assert model.graph.node[2].input[1] == "s"  # the DequantizeLinear's scale is still the float16 one
    fixed = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_array_equal(fixed, expected.astype(np.float16))
    # If this fails, onnxruntime rounds float16 QuantizeLinear itself now: the rewrite can go.
    assert (np.abs(as_is.astype(np.float32)) < np.abs(expected)).sum() > 1000, "onnxruntime no longer truncates"
