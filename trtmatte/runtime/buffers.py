"""Buffer planning: how many bytes every device and pinned host buffer of a session needs, so they
are allocated once, for the largest shapes the engine's optimisation profile allows.

Pure Python: an engine is described by :class:`TensorSpec` rows (name, input/output, dtype, shape
with -1 for dynamic dims), the profile by its max shape per input, and output shapes by a
function of the input shapes (TensorRT answers that with ``context.get_tensor_shape`` once the
input shapes are set; tests pass a rule). ``slots`` copies exist for double buffering.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from ..errors import TrtmatteError

# TensorRT DataType names -> NumPy. BF16/FP8/INT4 have no NumPy type: such an I/O tensor is refused.
TRT_DTYPES = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "INT32": np.int32, "INT64": np.int64,
              "BOOL": np.bool_, "UINT8": np.uint8}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    is_input: bool
    dtype: np.dtype
    shape: tuple[int, ...]  # -1 where the engine leaves a dimension dynamic


@dataclass(frozen=True)
class BufferPlan:
    name: str
    is_input: bool
    dtype: np.dtype
    max_shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.max_shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class IOPlan:
    buffers: tuple[BufferPlan, ...]
    slots: int = 1  # copies of every buffer (2 = double buffering for the pipelined mode)

    def __getitem__(self, name: str) -> BufferPlan:
        for b in self.buffers:
            if b.name == name:
                return b
        raise KeyError(name)

    @property
    def inputs(self) -> tuple[BufferPlan, ...]:
        return tuple(b for b in self.buffers if b.is_input)

    @property
    def outputs(self) -> tuple[BufferPlan, ...]:
        return tuple(b for b in self.buffers if not b.is_input)

    @property
    def device_bytes(self) -> int:
        """Device memory for all I/O tensors over all slots (TensorRT's activations come on top)."""
        return self.slots * sum(b.nbytes for b in self.buffers)

    @property
    def pinned_bytes(self) -> int:
        """Pinned host staging: one per I/O tensor per slot, the same size as its device buffer."""
        return self.device_bytes

    def to_dict(self) -> dict:
        return {"slots": self.slots, "device_bytes": self.device_bytes, "pinned_bytes": self.pinned_bytes,
                "buffers": [{"name": b.name, "io": "input" if b.is_input else "output", "dtype": np.dtype(b.dtype).name,
                             "max_shape": list(b.max_shape), "nbytes": b.nbytes} for b in self.buffers]}


def numpy_dtype(trt_dtype_name: str, tensor: str) -> np.dtype:
    try:
        return np.dtype(TRT_DTYPES[trt_dtype_name])
    except KeyError:
        raise TrtmatteError(f"engine I/O tensor {tensor!r} has type {trt_dtype_name}, which trtmatte cannot stage "
                            "through NumPy; export the graph with a uint8/float16/float32 output") from None


def resolve_input_max(spec: TensorSpec, profile_max: Sequence[int] | None) -> tuple[int, ...]:
    if profile_max is None:
        if -1 in spec.shape:
            raise TrtmatteError(f"input {spec.name!r} has dynamic shape {list(spec.shape)} but the profile gives no "
                                "max shape for it; rebuild the engine with `trtmatte build --max`")
        return tuple(spec.shape)
    profile_max = tuple(int(d) for d in profile_max)
    if len(profile_max) != len(spec.shape) or any(s not in (-1, p) for s, p in zip(spec.shape, profile_max)):
        raise TrtmatteError(f"profile max {list(profile_max)} of input {spec.name!r} does not fit its shape "
                            f"{list(spec.shape)}; the sidecar does not match the plan: rebuild it")
    if any(p <= 0 for p in profile_max):
        raise TrtmatteError(f"profile max {list(profile_max)} of input {spec.name!r} has a non-positive dimension")
    return profile_max


def plan_io(tensors: Sequence[TensorSpec], profile_max: Mapping[str, Sequence[int]],
            output_shapes: Callable[[dict[str, tuple[int, ...]]], Mapping[str, Sequence[int]]],
            slots: int = 1) -> IOPlan:
    """Size every I/O buffer for the profile's max input shapes.

    ``output_shapes(max input shapes)`` gives each output's shape at that point. For trtmatte's
    whole-pipeline graphs alpha is ``[N, H, W]`` of the input, so the max corner is exact; debug
    outputs at the working size may need more for some in-profile shapes, which the session
    detects per call (see TensorRTSession._ensure_capacity).
    """
    if slots < 1:
        raise TrtmatteError(f"slots must be at least 1, got {slots}")
    inputs = {t.name: resolve_input_max(t, profile_max.get(t.name)) for t in tensors if t.is_input}
    if not inputs:
        raise TrtmatteError("the engine has no input tensor")
    outs = {k: tuple(int(d) for d in v) for k, v in output_shapes(dict(inputs)).items()}
    buffers = []
    for t in tensors:
        if t.is_input:
            shape = inputs[t.name]
        else:
            shape = outs.get(t.name)
            if shape is None or any(d < 0 for d in shape):
                raise TrtmatteError(f"cannot size output {t.name!r}: its shape at the profile max is {shape}; "
                                    "the engine's output shape must follow from its input shapes")
        buffers.append(BufferPlan(t.name, t.is_input, np.dtype(t.dtype), shape))
    return IOPlan(tuple(buffers), slots)


def shape_fits(shape: Sequence[int], lo: Sequence[int], hi: Sequence[int]) -> bool:
    return len(shape) == len(lo) == len(hi) and all(a <= s <= b for a, s, b in zip(lo, shape, hi))
