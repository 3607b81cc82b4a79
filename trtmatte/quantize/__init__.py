"""Precision conversions of the exported whole-pipeline graph for strongly typed TensorRT builds.

TensorRT 10+/11 and TensorRT-RTX take precision from the ONNX tensors, not from builder flags
(docs/design.md), so each precision is a graph: :func:`convert_fp16` (network body in float16,
pre/post-processing in float32) and :func:`quantize_int8` (Q/DQ in front of Convs, calibrated on
photos). The parts of the graph are found structurally (:mod:`.anatomy`). Heavy packages (onnx,
onnxruntime, onnxconverter-common) are imported when a function is called.
"""
from .fp16 import FP16Report, convert_fp16
from .int8 import CALIBRATION_METHODS, DEFAULT_EXCLUDE, INT8_TARGETS, INT8Report, quantize_int8

__all__ = ["CALIBRATION_METHODS", "DEFAULT_EXCLUDE", "INT8_TARGETS", "FP16Report", "INT8Report", "convert_fp16", "quantize_int8"]
