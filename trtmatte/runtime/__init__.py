"""Inference sessions: one interface (:class:`MattingSession`) for every backend.

PyTorch and onnxruntime sessions are here; ``tensorrt_session.TensorRTSession``, the cuda-python
layer (``cuda``), buffer planning (``buffers``), the pipelined mode (``pipeline``) and
``matter.Matter`` are imported on demand. Optional stacks (onnxruntime, TensorRT, cuda-python) load
inside the constructors, so importing this package imports none of them.
"""
from .ort_session import OrtSession
from .session import MattingSession, SessionInfo, Timing
from .torch_session import TorchSession

__all__ = ["MattingSession", "OrtSession", "SessionInfo", "Timing", "TorchSession"]
