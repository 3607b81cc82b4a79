"""Names every exported trtmatte graph shares: its tensors and its ``metadata_props`` keys.

The exporter writes them, and every consumer (onnxruntime and TensorRT sessions, the engine
builder, quantization, the C++ library and the server) reads them from here, so a rename happens
in one place. Plain constants: importable without torch or onnx.
"""
from __future__ import annotations

# Tensors. Input: uint8 [N, H, W, 3] RGB pixels. Output: alpha [N, H, W] (uint8 x255, float16 or
# float32). Trimap-based families add a uint8 [N, H, W] trimap input (0 / 128 / 255).
IMAGE = "image"
ALPHA = "alpha"
TRIMAP = "trimap"
DEBUG_OUTPUTS = ("fg", "bg", "beta")  # --debug-outputs: float32 [N, h, w] at the working size

# metadata_props keys are "trtmatte.<key>"; the read/stamp functions strip and add the prefix.
METADATA_PREFIX = "trtmatte."
VARIANT = "variant"
VERSION = "version"
PREPROCESSING = "preprocessing"  # JSON of models.registry.Preprocessing
WEIGHTS_SHA256 = "weights_sha256"
WEIGHTS_PROVENANCE = "weights_provenance"
ALPHA_DTYPE = "alpha_dtype"
DEBUG = "debug_outputs"
CONTRACT = "contract"  # the I/O contract in words
PRECISION = "precision"  # stamped by `trtmatte quantize`: fp16 / int8 (absent: fp32)
CALIBRATION = "calibration"
INT8_TARGET = "int8_target"  # whose kernels the Q/DQ placement is for
FUSED_BLEND = "fused_blend"  # what --fused-blend replaced (JSON)

PRECISIONS = ("fp32", "fp16", "int8")
