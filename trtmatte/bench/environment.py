"""Versions and machine facts for labels, read from package metadata (nothing heavy is imported)."""
from __future__ import annotations

import os
import platform
from importlib import metadata

# label key -> distributions that provide it (the first installed wins)
PACKAGES = {
    "tensorrt": ("tensorrt", "tensorrt-cu12", "tensorrt-cu13"),
    "tensorrt_rtx": ("tensorrt-rtx-cu12", "tensorrt-rtx"),
    "onnxruntime": ("onnxruntime", "onnxruntime-gpu"),
    "torch": ("torch",),
    "cuda-python": ("cuda-bindings", "cuda-python"),
    "numpy": ("numpy",),
}


def versions() -> dict[str, str | None]:
    from .._version import __version__

    out: dict[str, str | None] = {"trtmatte": __version__}
    for key, dists in PACKAGES.items():
        out[key] = None
        for dist in dists:
            try:
                out[key] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return out


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_cores": os.cpu_count(), "python": platform.python_version()}
