"""Names every exported trtmatte graph shares: its tensors and its ``metadata_props`` keys.

The exporter writes them, and every consumer (onnxruntime and TensorRT sessions, the engine
builder, quantization, the C++ library and the server) reads them from here, so a rename happens
in one place. Plain constants: importable without torch or onnx.
"""
from __future__ import annotations

# Tensors. Input: uint8 [N, H, W, 3] RGB pixels. Output: alpha [N, H, W] (uint8 x255, float16 or
# float32). Trimap-based families (AdaMatting) add a uint8 [N, H, W] trimap input (0 background,
# 128 unknown, 255 foreground; thresholds in trtmatte/trimap.py) and a uint8 [N, H, W]
# trimap_adapted output in the same encoding.
IMAGE = "image"
ALPHA = "alpha"
TRIMAP = "trimap"
TRIMAP_ADAPTED = "trimap_adapted"
TRIMAP_AUTO = "trimap_auto"  # the trimap a Late Fusion -> AdaMatting graph derived (uint8 [N, H, W])
DEBUG_OUTPUTS = ("fg", "bg", "beta")  # Late Fusion's --debug-outputs: float32 [N, h, w] at the working size
ALPHA_DECODER = "alpha_decoder"  # AdaMatting's --debug-outputs: the A-decoder's alpha before propagation

# metadata_props keys are "trtmatte.<key>"; the read/stamp functions strip and add the prefix.
METADATA_PREFIX = "trtmatte."
VARIANT = "variant"
VERSION = "version"
PREPROCESSING = "preprocessing"  # JSON of models.registry.Preprocessing
WEIGHTS_SHA256 = "weights_sha256"
WEIGHTS_PROVENANCE = "weights_provenance"
ALPHA_DTYPE = "alpha_dtype"
DEBUG = "debug_outputs"
FAMILY = "family"  # the registry family (late_fusion, adamatting)
INPUTS = "inputs"  # the graph's inputs, comma-separated ("image" or "image,trimap")
ENFORCE_TRIMAP = "enforce_trimap"  # "true": the trimap's known regions are imposed on alpha in the graph
TRIMAP_SOURCE = "trimap_source"  # Late Fusion -> AdaMatting graphs: the Late Fusion model and auto-trimap options (JSON)
CONTRACT = "contract"  # the I/O contract in words
PRECISION = "precision"  # stamped by `trtmatte quantize`: fp16 / int8 (absent: fp32)
CALIBRATION = "calibration"
QUANTIZER = "quantizer"  # stamped by `trtmatte quantize`: trtmatte / modelopt (the tool that wrote the precision)
INT8_TARGET = "int8_target"  # whose kernels the Q/DQ placement is for
INT8_BODY = "int8_body"  # fp16 / fp32: the float precision of an INT8 graph's non-quantized body
FUSED_BLEND = "fused_blend"  # what --fused-blend replaced (JSON)

PRECISIONS = ("fp32", "fp16", "int8")
