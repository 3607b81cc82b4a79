"""The FusedBlend op, defined once in plain Python: attributes and their serialization, output
shape and type, supported type/format combinations, and a NumPy reference.

The TensorRT Python plugin (``trt_plugin.py``) and the ONNX rewrite (``trtmatte/export/blend_rewrite.py``)
are thin layers over these functions, so everything here is tested without TensorRT or a GPU. The C++
plugin (``plugins/fused_blend/FusedBlendPlugin.cpp``) implements the same rules; keep them in step.

    alpha = clamp(sigmoid(beta) * F + (1 - sigmoid(beta)) * (1 - B), 0, 1)     (paper eq. 2)
    F, B = sigmoid(fg), sigmoid(bg) when fg_bg_logits else fg, bg
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

PLUGIN_NAME = "FusedBlend"
PLUGIN_VERSION = "1"
PLUGIN_NAMESPACE = "trtmatte"
ONNX_DOMAIN = "trtmatte"

# alpha_dtype carries ONNX TensorProto codes (like Cast's `to`), so the ONNX attribute reads naturally.
ONNX_DTYPES = {1: "float32", 10: "float16", 2: "uint8"}
ONNX_CODES = {name: code for code, name in ONNX_DTYPES.items()}
# dtype codes of the C entry points (plugins/fused_blend/blend_math.h, TrtmatteBlendDtype)
KERNEL_DTYPES = {"float32": 0, "float16": 1, "uint8": 2}
INPUT_DTYPES = ("float32", "float16")
# TensorRT 10 plugins cannot output kUINT8 (IPluginV3OneBuild::getOutputDataTypes), so inside
# TensorRT the op outputs float and a Cast follows; the kernel itself can write uint8.
TENSORRT_OUTPUT_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class FusedBlendAttrs:
    fg_bg_logits: bool = True  # fg/bg are logits (sigmoid applied); False: already probabilities
    alpha_dtype: str = "float32"  # "float32", "float16" or "uint8" (x255, rounded half to even)
    crop_hw: tuple[int, int] = (0, 0)  # keep the top-left crop_h x crop_w; (0, 0): no crop

    def __post_init__(self):
        if self.alpha_dtype not in KERNEL_DTYPES:
            raise ValueError(f"alpha_dtype must be one of {sorted(KERNEL_DTYPES)}, got {self.alpha_dtype!r}")
        h, w = self.crop_hw
        if h < 0 or w < 0 or (h == 0) != (w == 0):
            raise ValueError(f"crop_hw must be (0, 0) or two positive sizes, got {self.crop_hw}")

    @property
    def cropped(self) -> bool:
        return self.crop_hw != (0, 0)

    def check_tensorrt(self) -> None:
        if self.alpha_dtype not in TENSORRT_OUTPUT_DTYPES:
            raise ValueError(f"alpha_dtype {self.alpha_dtype} is not available inside TensorRT (plugins cannot "
                             "output uint8): output float32 or float16 and cast after the plugin")

    # ---- ONNX node attributes / TensorRT plugin fields (the same names and integer values) ----

    def to_fields(self) -> dict[str, np.ndarray]:
        """Field name -> int32 array, as PluginFields and as ONNX attributes carry them."""
        return {"fg_bg_logits": np.array([int(self.fg_bg_logits)], np.int32),
                "alpha_dtype": np.array([ONNX_CODES[self.alpha_dtype]], np.int32),
                "crop_hw": np.array(self.crop_hw, np.int32)}

    @classmethod
    def from_fields(cls, fields: Iterable[tuple[str, object]]) -> "FusedBlendAttrs":
        """From (name, data) pairs: PluginField data (buffers/arrays of any integer width) or ONNX
        attribute values (ints, lists). Unknown names are ignored, as the C++ creator does (ONNX
        parsers may forward bookkeeping attributes such as plugin_version)."""
        values: dict = {}
        for name, data in fields:
            array = np.asarray(data).reshape(-1)
            if name in ("fg_bg_logits", "alpha_dtype", "crop_hw"):
                if array.dtype.kind not in "iu":
                    raise ValueError(f"FusedBlend field {name} must be integers, got {array.dtype}")
                values[name] = [int(v) for v in array]
        kwargs: dict = {}
        if "fg_bg_logits" in values:
            (flag,) = values["fg_bg_logits"][:1] or [None]
            if flag not in (0, 1) or len(values["fg_bg_logits"]) != 1:
                raise ValueError(f"fg_bg_logits must be 0 or 1, got {values['fg_bg_logits']}")
            kwargs["fg_bg_logits"] = bool(flag)
        if "alpha_dtype" in values:
            code = values["alpha_dtype"][0] if len(values["alpha_dtype"]) == 1 else None
            if code not in ONNX_DTYPES:
                raise ValueError(f"alpha_dtype must be an ONNX type code 1, 10 or 2, got {values['alpha_dtype']}")
            kwargs["alpha_dtype"] = ONNX_DTYPES[code]
        if "crop_hw" in values:
            if len(values["crop_hw"]) != 2:
                raise ValueError(f"crop_hw must have two values, got {values['crop_hw']}")
            kwargs["crop_hw"] = tuple(values["crop_hw"])
        return cls(**kwargs)


# ---- shape, type and format rules (what IPluginV3OneBuild answers) ----

def output_shape(attrs: FusedBlendAttrs, shapes: Sequence[Sequence[int | None]]) -> tuple:
    """Output shape from the three input shapes [N, 1, H, W]; None or -1 marks an unknown size."""
    if len(shapes) != 3:
        raise ValueError(f"FusedBlend takes 3 inputs (fg, bg, beta), got {len(shapes)}")
    known = [[None if d is None or d < 0 else int(d) for d in s] for s in shapes]
    if any(len(s) != 4 for s in known):
        raise ValueError(f"FusedBlend inputs must be 4-D [N, 1, H, W], got {[list(s) for s in shapes]}")
    for axis in range(4):
        sizes = {s[axis] for s in known} - {None}
        if len(sizes) > 1:
            raise ValueError(f"fg, bg and beta must have the same shape, got {[list(s) for s in shapes]}")
    merged = [next((s[a] for s in known if s[a] is not None), None) for a in range(4)]
    if merged[1] not in (None, 1):
        raise ValueError(f"FusedBlend inputs must have one channel, got C = {merged[1]}")
    n, _, h, w = merged
    if attrs.cropped:
        ch, cw = attrs.crop_hw
        if (h is not None and ch > h) or (w is not None and cw > w):
            raise ValueError(f"crop_hw {attrs.crop_hw} exceeds the input's H x W ({h} x {w})")
        h, w = ch, cw
    return (n, 1, h, w)


def output_dtype(attrs: FusedBlendAttrs, input_dtypes: Sequence[str]) -> str:
    if len(input_dtypes) != 3 or len(set(input_dtypes)) != 1 or input_dtypes[0] not in INPUT_DTYPES:
        raise ValueError(f"fg, bg and beta must all be float32 or all float16, got {list(input_dtypes)}")
    return attrs.alpha_dtype


def supports_combination(attrs: FusedBlendAttrs, pos: int, dtypes: Sequence[str], formats: Sequence[str]) -> bool:
    """supportsFormatCombination: may position ``pos`` (0-2 inputs, 3 output) have dtypes[pos] in
    formats[pos], given positions before it? Linear (NCHW) only; one input dtype; the output dtype
    is the attribute's."""
    if not 0 <= pos < 4 or formats[pos] != "linear":
        return False
    if pos == 0:
        return dtypes[0] in INPUT_DTYPES
    if pos < 3:
        return dtypes[pos] == dtypes[0]
    return dtypes[3] == attrs.alpha_dtype


# ---- NumPy reference (float64, independent of the C++ code) ----

def reference_alpha(fg: np.ndarray, bg: np.ndarray, beta: np.ndarray, attrs: FusedBlendAttrs = FusedBlendAttrs()) -> np.ndarray:
    """What the kernel computes, in float64 NumPy, then cast like the kernel: float outputs keep NaN,
    uint8 maps NaN to 0 and rounds half to even."""
    def sigmoid(x):
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))

    fg, bg, beta = (np.asarray(a, np.float64) for a in (fg, bg, beta))
    f = sigmoid(fg) if attrs.fg_bg_logits else fg
    b = sigmoid(bg) if attrs.fg_bg_logits else bg
    t = sigmoid(beta)
    alpha = t * f + (1.0 - t) * (1.0 - b)
    alpha = np.where(np.isnan(alpha), alpha, np.clip(alpha, 0.0, 1.0))
    if attrs.cropped:
        alpha = alpha[..., : attrs.crop_hw[0], : attrs.crop_hw[1]]
    if attrs.alpha_dtype == "uint8":
        return np.where(np.isnan(alpha), 0.0, np.rint(alpha * 255.0)).astype(np.uint8)
    return alpha.astype(attrs.alpha_dtype)
