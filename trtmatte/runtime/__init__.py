"""Inference sessions: one interface for every backend (PyTorch now; onnxruntime and TensorRT
join it with the export and runtime issues)."""
from .session import MattingSession, SessionInfo
from .torch_session import TorchSession

__all__ = ["MattingSession", "SessionInfo", "TorchSession"]

# OrtSession imports onnxruntime lazily (inside __init__), so importing it here is free.
from .ort_session import OrtSession  # noqa: E402

__all__.append("OrtSession")
