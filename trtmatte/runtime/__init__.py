"""Inference sessions: one interface for every backend (PyTorch now; onnxruntime and TensorRT
join it with the export and runtime issues)."""
from .session import MattingSession, SessionInfo
from .torch_session import TorchSession

__all__ = ["MattingSession", "SessionInfo", "TorchSession"]
