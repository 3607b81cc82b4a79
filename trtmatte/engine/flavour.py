"""Everything that differs between standard TensorRT and TensorRT for RTX, and the GPU we run on.

The rest of trtmatte uses the API both share and asks this module about the differences:
- which module to import (``tensorrt`` or ``tensorrt_rtx``) and how to name it to a user;
- targets: RTX builds ahead of time for a list of compute capabilities (no GPU needed); standard
  TensorRT builds for the GPU it runs on, optionally hardware-compatible (Ampere+) or
  version-compatible (:meth:`Flavour.configure_targets`);
- plugins: standard TensorRT loads IPluginV3 libraries and can serialize them into the plan; RTX
  has no plugin layers at all (and its ONNX parser aborts on a Python plugin's node);
- timing cache: standard TensorRT times tactics and can reuse a cache; RTX's is a no-op;
- DLA (Jetson Orin's deep-learning accelerators): standard TensorRT only (:meth:`Flavour.configure_dla`).

The oldest standard TensorRT trtmatte supports is 10.3 (JetPack 6). Every TensorRT name the Python
code uses must exist there, or be kept from it by a guard and listed in NOT_IN_TENSORRT_10_3
(tests/engine/test_tensorrt_10_3_api.py checks the code against the 10.3 headers).
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .. import _lazy
from ..errors import DependencyMissing, TrtmatteError

STANDARD, RTX = "tensorrt", "tensorrt_rtx"
FLAVOURS = (STANDARD, RTX)  # preference order when both are installed
LABELS = {STANDARD: "TensorRT", RTX: "TensorRT-RTX"}
ENV_FLAVOUR = "TRTMATTE_TENSORRT"  # forces one flavour, like --tensorrt

# RTX targets when no GPU is present: Ampere, Ada and Blackwell client GPUs (sm_80/86/89/120).
# Turing (SM75) and sm_121 are available with --compute-capability; each target adds build time.
DEFAULT_RTX_TARGETS = ("SM80", "SM86", "SM89", "SM120")

# TensorRT names the code uses that TensorRT 10.3 lacks, each with the guard that keeps it from 10.3.
# Key: the Python name as used (``trt.X`` -> "X", ``obj.method`` -> "method", ``trt.E.M`` -> "E.M").
NOT_IN_TENSORRT_10_3 = {
    "ComputeCapability": "TensorRT-RTX only: read in Flavour.configure_targets and rtx_targets, both behind is_rtx",
    "num_compute_capabilities": "TensorRT-RTX only: set in Flavour.configure_targets behind is_rtx",
    "set_compute_capability": "TensorRT-RTX only: called in Flavour.configure_targets behind is_rtx",
}


def flavour_label(name: str) -> str:
    """What a user calls a flavour: "TensorRT" / "TensorRT-RTX" (unknown names pass through)."""
    return LABELS.get(name, name)


def installed_flavour() -> str | None:
    """The flavour :func:`import_tensorrt` would pick with nothing forced, or None."""
    return next((name for name in FLAVOURS if _lazy.is_installed(name)), None)  # found, not imported


def import_tensorrt(name: str | None = None) -> ModuleType:
    """The TensorRT module: ``tensorrt`` if installed, else ``tensorrt_rtx``.

    ``name`` (or the TRTMATTE_TENSORRT environment variable) forces one. Both expose the same
    builder/parser/runtime API for what trtmatte uses.
    """
    name = name or os.environ.get(ENV_FLAVOUR)
    if name:
        if name not in FLAVOURS:
            raise DependencyMissing(f"unknown TensorRT flavour {name!r}: use {' or '.join(map(repr, FLAVOURS))}")
        return _lazy.require(name, "TensorRT engines")
    found = installed_flavour()
    if found is None:
        raise DependencyMissing("neither tensorrt nor tensorrt_rtx is installed (needed for TensorRT engines): "
                                f"{_lazy.INSTALL_HINTS[STANDARD]}, or {_lazy.INSTALL_HINTS[RTX]}")
    return _lazy.require(found, "TensorRT engines")  # installed but broken: still one line


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: tuple[int, int]

    @property
    def sm(self) -> str:
        return f"SM{self.compute_capability[0]}{self.compute_capability[1]}"


@dataclass(frozen=True)
class Flavour:
    module: ModuleType
    name: str  # "tensorrt" or "tensorrt_rtx"
    version: str

    @classmethod
    def of(cls, trt: ModuleType) -> "Flavour":
        return cls(trt, trt.__name__, trt.__version__)

    @property
    def is_rtx(self) -> bool:
        return self.name == RTX

    @property
    def label(self) -> str:
        return f"{flavour_label(self.name)} {self.version}"

    @property
    def supports_plugins(self) -> bool:
        return not self.is_rtx

    @property
    def supports_timing_cache(self) -> bool:
        # TensorRT-RTX builds ahead of time without timing tactics; its timing-cache calls are
        # deprecated no-ops (kernels are specialised at run time, with its runtime cache instead).
        return not self.is_rtx

    def require_plugins(self, what: str) -> None:
        """Refuse plugin use on RTX in one line (``what`` says what asked for it)."""
        if not self.supports_plugins:
            raise TrtmatteError(f"{flavour_label(self.name)} has no plugin layers, so {what} cannot be used with it: install "
                                "standard TensorRT (pip install tensorrt), or export without --fused-blend")

    def check_dla(self, dla_core: int | None, gpu_fallback: bool = False) -> None:
        """Refuse, before any work, DLA options this flavour or the arguments cannot honour."""
        if dla_core is None:
            if gpu_fallback:
                raise TrtmatteError("--allow-gpu-fallback only applies with --dla-core N: add --dla-core 0 (or 1), "
                                    "or drop --allow-gpu-fallback")
            return
        if self.is_rtx:
            raise TrtmatteError(f"{self.label} has no DLA support (--dla-core is for Jetson's accelerators): build on the "
                                "Jetson with standard TensorRT (JetPack's python3-libnvinfer), or drop --dla-core")
        if dla_core < 0:
            raise TrtmatteError(f"--dla-core must be 0 or more (Orin has DLA cores 0 and 1), got {dla_core}")

    def configure_dla(self, builder: Any, config: Any, dla_core: int | None, gpu_fallback: bool = False) -> dict:
        """Put the network on DLA core ``dla_core`` (standard TensorRT on Jetson Orin/Xavier); return
        the sidecar fields that record it. Without ``gpu_fallback`` every layer must run on the DLA or
        the build fails; with it, TensorRT runs what the DLA cannot on the GPU."""
        self.check_dla(dla_core, gpu_fallback)
        if dla_core is None:
            return {}
        trt = self.module
        cores = int(builder.num_DLA_cores)
        if dla_core >= cores:
            found = f"only {cores} DLA core{'s' if cores != 1 else ''} (0..{cores - 1})" if cores else "no DLA"
            raise TrtmatteError(f"--dla-core {dla_core}: this device has {found}; Jetson AGX Orin, Orin NX and Xavier have "
                                "DLA (Orin Nano and other GPUs have none): drop --dla-core to build for the GPU")
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = dla_core
        if gpu_fallback:
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
        return {"dla_core": dla_core, "gpu_fallback": gpu_fallback}

    def target_key(self, requested: list[str] | None, gpu: GpuInfo | None) -> list[str]:
        """What a plan built now would be tied to (the engine cache's key)."""
        return rtx_targets(self, requested, gpu) if self.is_rtx else [gpu.name if gpu else "none"]

    def configure_targets(self, config: Any, gpu: GpuInfo | None, *, compute_capabilities: list[str] | None = None,
                          hardware_compatible: bool = False, version_compatible: bool = False,
                          plugin_libraries: list[str] | None = None) -> dict:
        """Set the builder config's targets; return the sidecar fields that record them."""
        trt = self.module
        if self.is_rtx:
            targets = rtx_targets(self, compute_capabilities, gpu)
            config.num_compute_capabilities = len(targets)
            for index, target in enumerate(targets):
                config.set_compute_capability(getattr(trt.ComputeCapability, target), index)
            return {"targets": targets}
        if gpu is None:
            raise TrtmatteError(f"{self.label} builds need a CUDA GPU and none was found; "
                                "TensorRT-RTX (pip install tensorrt-rtx-cu12) can build without one")
        if hardware_compatible:
            config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS
        if version_compatible:
            config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
        if plugin_libraries:
            config.plugins_to_serialize = [os.path.abspath(p) for p in plugin_libraries]
        return {"gpu_name": gpu.name, "gpu_compute_capability": gpu.sm, "hardware_compatible": hardware_compatible,
                "version_compatible": version_compatible}


def get_flavour(name: str | None = None) -> Flavour:
    return Flavour.of(import_tensorrt(name))


def current_gpu() -> GpuInfo | None:
    """The first CUDA GPU, or None. Asks cuda-python's runtime when installed (what the TensorRT
    session runs on), else PyTorch when installed; with neither, no GPU can be used from Python.
    Both answer quickly on a machine without a GPU or driver; neither is imported when absent."""
    if _lazy.is_installed("cuda.bindings") and _lazy.is_available("cuda.bindings.runtime"):
        cudart = importlib.import_module("cuda.bindings.runtime")
        err, count = cudart.cudaGetDeviceCount()
        if int(getattr(err, "value", err)) != 0 or count < 1:
            return None
        err, props = cudart.cudaGetDeviceProperties(0)
        if int(getattr(err, "value", err)) != 0:
            return None
        name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
        return GpuInfo(name.split("\0")[0], (int(props.major), int(props.minor)))
    if _lazy.is_installed("torch"):
        import torch

        if not torch.cuda.is_available():
            return None
        props = torch.cuda.get_device_properties(0)
        return GpuInfo(props.name, (props.major, props.minor))
    return None


def rtx_targets(flavour: Flavour, requested: list[str] | None, gpu: GpuInfo | None) -> list[str]:
    """Compute capabilities an RTX engine is built for: requested, else this GPU, else the default set."""
    known = {n for n in dir(flavour.module.ComputeCapability) if n.startswith("SM")}
    if requested:
        unknown = [r for r in requested if r.upper() not in known]
        if unknown:
            raise TrtmatteError(f"{flavour.label} cannot target {', '.join(unknown)}: choose from {', '.join(sorted(known))}")
        return [r.upper() for r in requested]
    if gpu is not None:
        # TensorRT-RTX 1.7 has no SM90 (Hopper) target: say so in one line rather than fail in getattr.
        if gpu.sm not in known:
            raise TrtmatteError(f"{flavour.label} cannot target this GPU ({gpu.name}, {gpu.sm}): it targets "
                                f"{', '.join(sorted(known))}; pass --compute-capability with one of them, or build "
                                "with standard TensorRT")
        return [gpu.sm]
    return list(DEFAULT_RTX_TARGETS)
