"""Inference sessions: one interface (:class:`MattingSession`) for every backend.

PyTorch and onnxruntime sessions are here; ``tensorrt_session.TensorRTSession`` is imported on
demand. Optional stacks (onnxruntime, TensorRT) load inside the constructors, so importing this
package is free.
"""
from .ort_session import OrtSession
from .session import MattingSession, SessionInfo
from .torch_session import TorchSession

__all__ = ["MattingSession", "OrtSession", "SessionInfo", "TorchSession"]
