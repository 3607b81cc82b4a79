"""TensorRT backend (minimal): one execution context, device buffers from PyTorch's CUDA allocator.

NOT EXECUTED on any machine of this project so far (CPU-only CI; the lent H100 has no TensorRT,
and TensorRT-RTX plans do not target SM90). The pinned-memory, CUDA-graph, pipelined runtime is
the runtime issue's; this session exists so `trtmatte matte --backend tensorrt` and the engine
cache have a consumer, and it uses only the TensorRT 10 API that both flavours share.
"""
from __future__ import annotations

import os

import numpy as np

from ..engine.loader import load
from ..errors import TrtmatteError
from .session import MattingSession, SessionInfo


class TensorRTSession(MattingSession):
    def __init__(self, plan: str | os.PathLike):
        import torch

        self.torch = torch
        loaded = load(plan)  # refuses mismatched plans / no GPU in one line, before deserializing
        self.loaded = loaded
        self.engine = loaded.engine
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        self.profile = loaded.meta.profile["image"]
        flavour = "TensorRT-RTX" if loaded.meta.tensorrt_flavour == "tensorrt_rtx" else "TensorRT"
        self.info = SessionInfo("tensorrt", loaded.meta.precision, loaded.gpu.name,
                                loaded.meta.onnx_metadata.get("variant", "?"), f"({flavour}) {loaded.meta.tensorrt_version}")

    def _check_profile(self, shape: tuple[int, ...]) -> None:
        lo, hi = self.profile["min"], self.profile["max"]
        if not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
            raise TrtmatteError(f"input {list(shape)} is outside the engine's profile {lo}..{hi}; "
                                "rebuild with `trtmatte build --min/--max` covering it")

    def run(self, images: np.ndarray) -> np.ndarray:
        torch = self.torch
        images = self.check_images(images)
        self._check_profile(images.shape)
        with torch.cuda.stream(self.stream):
            x = torch.from_numpy(np.ascontiguousarray(images)).to("cuda", non_blocking=True)
            self.context.set_input_shape("image", tuple(x.shape))
            self.context.set_tensor_address("image", x.data_ptr())
            out_shape = tuple(self.context.get_tensor_shape("alpha"))
            dtype = {"UINT8": torch.uint8, "HALF": torch.float16}.get(self.engine.get_tensor_dtype("alpha").name, torch.float32)
            y = torch.empty(out_shape, dtype=dtype, device="cuda")
            self.context.set_tensor_address("alpha", y.data_ptr())
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise TrtmatteError("TensorRT execution failed (see the TensorRT error above)")
            alpha = y.cpu()  # synchronises the stream
        alpha = alpha.numpy()
        return alpha.astype(np.float32) / 255.0 if alpha.dtype == np.uint8 else alpha.astype(np.float32)
