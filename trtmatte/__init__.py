"""trtmatte: an optimized deployment engine for deep image matting (Late Fusion CNN, ...).

Importing trtmatte never imports TensorRT, CUDA or onnxruntime: GPU stacks are loaded lazily by
:mod:`trtmatte._lazy` when a backend that needs them is used.
"""
__version__ = "0.1.0"

from .errors import TrtmatteError  # noqa: E402

__all__ = ["__version__", "TrtmatteError"]
