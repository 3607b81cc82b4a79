"""The one place where optional heavy stacks are imported.

``import trtmatte`` and ``trtmatte --help`` must work on a machine without TensorRT, CUDA or
onnxruntime, so every module asks for them through these helpers at call time, and a missing
package becomes a :class:`DependencyMissing` error with the install hint.
"""
from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from .errors import DependencyMissing

# top-level module name -> how to get it (the extras are defined in pyproject.toml)
INSTALL_HINTS = {
    "torch": "pip install 'trtmatte[torch]' (the PyTorch backend and checkpoints; the CPU build is enough)",
    "safetensors": "pip install 'trtmatte[torch]'",
    "onnx": "pip install 'trtmatte[export]' (or 'trtmatte[quantize]')",
    "onnxsim": "pip install 'trtmatte[export]'",
    "onnxscript": "pip install 'trtmatte[export]'",
    "onnxconverter_common": "pip install 'trtmatte[quantize]'",
    "cv2": "pip install 'trtmatte[quantize]' (OpenCV, for the matting metrics)",
    "scipy": "pip install 'trtmatte[quantize]' (SciPy, for the matting metrics)",
    "skimage": "pip install 'trtmatte[data]' (scikit-image's bundled photos)",
    "h5py": "pip install 'trtmatte[keras]' (reading the authors' Keras weights)",
    "matplotlib": "pip install 'trtmatte[bench]'",
    "pymatting": "pip install 'trtmatte[cutout]' (foreground colours for cutouts and composites)",
    "av": "pip install 'trtmatte[video]' (PyAV, for video input and output)",
    "onnxruntime": "pip install onnxruntime (or onnxruntime-gpu for its CUDA execution provider)",
    "tensorrt": "pip install tensorrt (NVIDIA's TensorRT; on Jetson it ships with JetPack)",
    "tensorrt_rtx": "pip install 'trtmatte[rtx]' (TensorRT for RTX: builds engines without a GPU)",
    "cuda": "pip install 'trtmatte[gpu]' (cuda-python, for the pinned-memory CUDA runtime)",
    "cupy": "pip install cupy-cuda12x",
    "ray": "pip install 'trtmatte[ray]' (Ray Data, for `trtmatte matte --ray` and trtmatte.ray)",
    "pyarrow": "pip install 'trtmatte[ray]' (pyarrow filesystems, for trtmatte.ray)",
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


def is_installed(name: str) -> bool:
    """Whether ``name`` could be imported, without importing it (cheap; for probes)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken spec
        return False
