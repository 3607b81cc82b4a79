"""The few places where standard TensorRT and TensorRT for RTX differ, and the GPU we run on.

Everything else in trtmatte.engine uses the API both share. Differences handled here:
- RTX builds ahead of time for a list of compute capabilities (no GPU needed); standard TensorRT
  builds for the GPU it runs on, optionally hardware-compatible (Ampere+) or version-compatible.
- Standard TensorRT loads IPluginV3 libraries and can serialize them into the plan; RTX has no
  plugin layers at all.
- Standard TensorRT times tactics and can reuse a timing cache; RTX's timing cache is a no-op.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .. import _lazy
from ..errors import TrtmatteError

# RTX targets when no GPU is present: Ampere, Ada and Blackwell client GPUs (sm_80/86/89/120).
# Turing (SM75) and sm_121 are available with --compute-capability; each target adds build time.
DEFAULT_RTX_TARGETS = ("SM80", "SM86", "SM89", "SM120")


@dataclass(frozen=True)
class Flavour:
    module: ModuleType
    name: str  # "tensorrt" or "tensorrt_rtx"
    version: str

    @property
    def is_rtx(self) -> bool:
        return self.name == "tensorrt_rtx"

    @property
    def label(self) -> str:
        return f"{'TensorRT-RTX' if self.is_rtx else 'TensorRT'} {self.version}"

    @property
    def supports_plugins(self) -> bool:
        return not self.is_rtx

    @property
    def supports_timing_cache(self) -> bool:
        # TensorRT-RTX builds ahead of time without timing tactics; its timing-cache calls are
        # deprecated no-ops (kernels are specialised at run time, with its runtime cache instead).
        return not self.is_rtx


def get_flavour(name: str | None = None) -> Flavour:
    trt = _lazy.tensorrt(name)
    return Flavour(trt, trt.__name__, trt.__version__)


@dataclass(frozen=True)
class GpuInfo:
    name: str
    compute_capability: tuple[int, int]

    @property
    def sm(self) -> str:
        return f"SM{self.compute_capability[0]}{self.compute_capability[1]}"


def current_gpu() -> GpuInfo | None:
    """The first CUDA GPU, or None. Asks torch (already a dependency), which needs no CUDA
    toolkit and answers False quickly on a CPU-only build."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return GpuInfo(props.name, (props.major, props.minor))


def rtx_targets(flavour: Flavour, requested: list[str] | None, gpu: GpuInfo | None) -> list[str]:
    """Compute capabilities an RTX engine is built for: requested, else this GPU, else the default set."""
    if requested:
        known = {n for n in dir(flavour.module.ComputeCapability) if n.startswith("SM")}
        unknown = [r for r in requested if r.upper() not in known]
        if unknown:
            raise TrtmatteError(f"{flavour.label} cannot target {', '.join(unknown)}: choose from {', '.join(sorted(known))}")
        return [r.upper() for r in requested]
    if gpu is not None:
        return [gpu.sm]
    return list(DEFAULT_RTX_TARGETS)
