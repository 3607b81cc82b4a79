"""trtmatte: an optimized deployment engine for deep image matting (Late Fusion CNN, ...).

Importing trtmatte never imports TensorRT, CUDA or onnxruntime: GPU stacks are loaded lazily by
:mod:`trtmatte._lazy` when a backend that needs them is used.
"""
from ._version import __version__
from .errors import TrtmatteError

__all__ = ["__version__", "Matter", "TrtmatteError"]


def __getattr__(name: str):
    # Matter pulls in torch and the runtime: load it on first use so `import trtmatte` stays light.
    if name == "Matter":
        from .runtime.matter import Matter

        return Matter
    raise AttributeError(f"module 'trtmatte' has no attribute {name!r}")
