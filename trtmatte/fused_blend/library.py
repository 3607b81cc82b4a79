"""Find and load the compiled fused-blend libraries (built by CMake into ``build/lib``) with ctypes.

Three libraries, one job each (plugins/fused_blend/CMakeLists.txt):
  ``libtrtmatte_blend_cpu.so``     the kernel's per-pixel math on the host (C++ only)
  ``libtrtmatte_blend_kernel.so``  the CUDA kernel and its C launcher (no TensorRT)
  ``libtrtmatte_plugins.so``       the C++ trtmatte::FusedBlend IPluginV3 (needs TensorRT headers)

Search order: ``$TRTMATTE_PLUGIN_DIR``, then ``build/lib`` of this checkout. A missing or unusable
file is a one-line TrtmatteError that says how to build it.
"""
from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np

from ..errors import TrtmatteError
from .blend_op import KERNEL_DTYPES, FusedBlendAttrs

CPU_LIBRARY = "libtrtmatte_blend_cpu.so"
KERNEL_LIBRARY = "libtrtmatte_blend_kernel.so"
PLUGIN_LIBRARY = "libtrtmatte_plugins.so"
ENV_DIR = "TRTMATTE_PLUGIN_DIR"
BUILD_HINT = "build it with `cmake -S . -B build && cmake --build build` in the trtmatte checkout"
ABI_VERSION = 1  # TRTMATTE_FUSED_BLEND_ABI_VERSION in plugins/fused_blend/fused_blend.h
REPO = Path(__file__).resolve().parents[2]

_ARGS = [ctypes.c_void_p] * 3 + [ctypes.c_int, ctypes.c_void_p, ctypes.c_int] + [ctypes.c_int64] * 5 + [ctypes.c_int]


def search_dirs() -> list[Path]:
    dirs = [Path(os.environ[ENV_DIR])] if os.environ.get(ENV_DIR) else []
    return dirs + [REPO / "build" / "lib"]


def find_library(name: str) -> Path:
    dirs = search_dirs()
    for folder in dirs:
        if (folder / name).is_file():
            return folder / name
    where = ", ".join(str(d) for d in dirs)
    extra = "; TensorRT headers are needed too (-DTensorRT_ROOT=...)" if name == PLUGIN_LIBRARY else ""
    raise TrtmatteError(f"{name} not found in {where}: {BUILD_HINT}{extra}, or set {ENV_DIR} to the folder holding it")


def _open(path: Path, symbols: tuple[str, ...]) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(str(path))
        for symbol in symbols:
            getattr(lib, symbol)
    except (OSError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrtmatteError(f"cannot load {path} ({reason}): rebuild it; {BUILD_HINT}") from None
    return lib


@functools.lru_cache(maxsize=None)
def load_cpu_library(path: str | None = None) -> ctypes.CDLL:
    lib = _open(Path(path) if path else find_library(CPU_LIBRARY),
                ("trtmatte_fused_blend_cpu", "trtmatte_half_to_float_cpu", "trtmatte_float_to_half_cpu",
                 "trtmatte_fused_blend_cpu_abi_version"))
    if lib.trtmatte_fused_blend_cpu_abi_version() != ABI_VERSION:
        raise TrtmatteError(f"{lib._name} was built from another trtmatte version: rebuild it; {BUILD_HINT}")
    lib.trtmatte_fused_blend_cpu.argtypes = _ARGS
    lib.trtmatte_fused_blend_cpu.restype = ctypes.c_int
    lib.trtmatte_half_to_float_cpu.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    lib.trtmatte_float_to_half_cpu.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    return lib


@functools.lru_cache(maxsize=None)
def load_kernel_library(path: str | None = None) -> ctypes.CDLL:
    lib = _open(Path(path) if path else find_library(KERNEL_LIBRARY),
                ("trtmatte_fused_blend", "trtmatte_fused_blend_abi_version"))
    if lib.trtmatte_fused_blend_abi_version() != ABI_VERSION:
        raise TrtmatteError(f"{lib._name} was built from another trtmatte version: rebuild it; {BUILD_HINT}")
    lib.trtmatte_fused_blend.argtypes = _ARGS + [ctypes.c_void_p]  # + cudaStream_t
    lib.trtmatte_fused_blend.restype = ctypes.c_int
    return lib


def plugin_library_path() -> Path:
    """The C++ plugin library, for `trtmatte build --plugin` (TensorRT loads it, not ctypes)."""
    return find_library(PLUGIN_LIBRARY)


def _shape(fg, bg, beta, attrs: FusedBlendAttrs) -> tuple[int, int, int, int, int]:
    if not (fg.shape == bg.shape == beta.shape) or fg.ndim != 4 or fg.shape[1] != 1:
        raise ValueError(f"fg, bg and beta must share one [N, 1, H, W] shape, got {fg.shape}, {bg.shape}, {beta.shape}")
    n, _, h, w = fg.shape
    out_h, out_w = attrs.crop_hw if attrs.cropped else (h, w)
    if out_h > h or out_w > w:
        raise ValueError(f"crop_hw {attrs.crop_hw} exceeds the input's H x W ({h} x {w})")
    return n, h, w, out_h, out_w


def run_cpu(fg: np.ndarray, bg: np.ndarray, beta: np.ndarray, attrs: FusedBlendAttrs = FusedBlendAttrs(),
            library: str | None = None) -> np.ndarray:
    """Run the kernel's per-pixel code on the host over NumPy arrays [N, 1, H, W] (float32/float16)."""
    if not (fg.dtype == bg.dtype == beta.dtype) or fg.dtype.name not in ("float32", "float16"):
        raise ValueError(f"fg, bg and beta must all be float32 or all float16, got {fg.dtype}, {bg.dtype}, {beta.dtype}")
    n, h, w, out_h, out_w = _shape(fg, bg, beta, attrs)
    fg, bg, beta = (np.ascontiguousarray(a) for a in (fg, bg, beta))
    out = np.empty((n, 1, out_h, out_w), attrs.alpha_dtype)
    status = load_cpu_library(library).trtmatte_fused_blend_cpu(
        fg.ctypes.data, bg.ctypes.data, beta.ctypes.data, KERNEL_DTYPES[fg.dtype.name], out.ctypes.data,
        KERNEL_DTYPES[attrs.alpha_dtype], n, h, w, out_h, out_w, int(attrs.fg_bg_logits))
    if status != 0:
        raise ValueError(f"trtmatte_fused_blend_cpu rejected its arguments (status {status})")
    return out


def launch(fg_ptr: int, bg_ptr: int, beta_ptr: int, in_dtype: str, alpha_ptr: int, shape: tuple[int, int, int, int],
           attrs: FusedBlendAttrs, stream: int = 0, library: str | None = None) -> None:
    """Launch the CUDA kernel on device pointers (integers, as TensorRT, PyTorch, CuPy and cuda-python
    give them) on ``stream``; ``shape`` is the inputs' [N, 1, H, W]. Asynchronous."""
    n, _, h, w = shape
    out_h, out_w = attrs.crop_hw if attrs.cropped else (h, w)
    status = load_kernel_library(library).trtmatte_fused_blend(
        fg_ptr, bg_ptr, beta_ptr, KERNEL_DTYPES[in_dtype], alpha_ptr, KERNEL_DTYPES[attrs.alpha_dtype],
        n, h, w, out_h, out_w, int(attrs.fg_bg_logits), stream or None)
    if status != 0:
        raise TrtmatteError(f"fused-blend kernel launch failed with CUDA error {status} "
                            f"(inputs {in_dtype} {list(shape)}, output {attrs.alpha_dtype} {out_h}x{out_w})")


def half_to_float(bits: np.ndarray, library: str | None = None) -> np.ndarray:
    """binary16 bit patterns -> float32 with the kernel header's host conversion (tests)."""
    bits = np.ascontiguousarray(bits, np.uint16)
    out = np.empty(bits.shape, np.float32)
    load_cpu_library(library).trtmatte_half_to_float_cpu(bits.ctypes.data, out.ctypes.data, bits.size)
    return out


def float_to_half(values: np.ndarray, library: str | None = None) -> np.ndarray:
    """float32 -> binary16 bit patterns (round to nearest even) with the header's host conversion."""
    values = np.ascontiguousarray(values, np.float32)
    out = np.empty(values.shape, np.uint16)
    load_cpu_library(library).trtmatte_float_to_half_cpu(values.ctypes.data, out.ctypes.data, values.size)
    return out
