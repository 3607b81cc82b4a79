"""The one place where optional heavy stacks are imported.

``import trtmatte`` and ``trtmatte --help`` must work on a machine without TensorRT, CUDA or
onnxruntime, so every module asks for them through these helpers at call time, and a missing
package becomes a :class:`DependencyMissing` error with the install hint.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import DependencyMissing

# module name -> how to get it
INSTALL_HINTS = {
    "tensorrt": "pip install tensorrt (NVIDIA's TensorRT; on Jetson it ships with JetPack)",
    "tensorrt_rtx": "pip install tensorrt-rtx-cu12==1.7.1.116",
    "cuda": "pip install cuda-python==12.9.4 (or: pip install -e '.[gpu]')",
    "cupy": "pip install cupy-cuda12x",
    "onnx": "pip install onnx",
    "matplotlib": "pip install matplotlib==3.11.2 (or: pip install -e '.[bench]')",
    "onnxruntime": "pip install onnxruntime",
    "h5py": "pip install h5py",
    "onnxconverter_common": "pip install onnxconverter-common==1.16.0",
}

# Heavy GPU stacks: a test asserts none of them is imported by `import trtmatte` or `--help`.
GPU_MODULES = ("tensorrt", "tensorrt_rtx", "cuda", "cupy", "onnxruntime")


def require(name: str, purpose: str = "") -> ModuleType:
    """Import ``name`` or raise DependencyMissing naming the package and how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".")[0]
        hint = INSTALL_HINTS.get(top, f"pip install {top}")
        what = f" (needed for {purpose})" if purpose else ""
        raise DependencyMissing(f"{name} is not installed{what}: {hint}") from exc


def is_available(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True
