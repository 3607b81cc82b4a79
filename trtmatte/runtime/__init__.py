"""Inference sessions: one interface (:class:`MattingSession`) for every backend.

The onnxruntime session is here; ``TorchSession`` (needs PyTorch) loads on first access, and
``tensorrt_session.TensorRTSession``, the cuda-python layer (``cuda``), buffer planning
(``buffers``), the pipelined executor (``pipelined``) and ``matter.Matter`` are imported on
demand. Optional stacks (onnxruntime, TensorRT, cuda-python, torch) load inside constructors, so
importing this package imports none of them.
"""
from .ort_session import OrtSession
from .session import Batch, MattingSession, SessionInfo, Timing

__all__ = ["Batch", "MattingSession", "OrtSession", "SessionInfo", "Timing", "TorchSession"]


def __getattr__(name: str):
    if name == "TorchSession":  # imports torch: only when asked for
        from .torch_session import TorchSession

        return TorchSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
