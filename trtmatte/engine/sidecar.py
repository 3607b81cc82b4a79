"""The JSON written beside every plan: what it was built from, with what, for which GPU.

``model.plan`` gets ``model.plan.json`` (this metadata) and ``model.plan.layers.json`` (the layer
report). The loader compares the sidecar with the running TensorRT and GPU *before* deserializing,
so a mismatch is reported in one line instead of a TensorRT crash.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import TrtmatteError
from ..fileio import atomic_output

SIDECAR_VERSION = 1


@dataclass
class EngineMeta:
    tensorrt_flavour: str  # "tensorrt" or "tensorrt_rtx"
    tensorrt_version: str
    precision: str  # fp32 / fp16 / int8, read from the ONNX
    profile: dict[str, dict[str, list[int]]]  # input name -> min/opt/max
    onnx_sha256: str
    onnx_path: str
    targets: list[str] = field(default_factory=list)  # RTX compute capabilities, e.g. ["SM86"]
    gpu_name: str = ""  # standard TensorRT: the GPU it was built on
    gpu_compute_capability: str = ""
    hardware_compatible: bool = False
    version_compatible: bool = False
    dla_core: int | None = None  # standard TensorRT on Jetson: the DLA core the network runs on
    gpu_fallback: bool = False  # with dla_core: layers the DLA cannot run were placed on the GPU
    plugins: list[dict] = field(default_factory=list)  # {"name", "version", "namespace", "library"}
    onnx_metadata: dict[str, str] = field(default_factory=dict)
    trtmatte_version: str = ""
    build_seconds: float = 0.0
    plan_bytes: int = 0
    plan_sha256: str = ""
    created: str = ""
    rebuild_command: str = ""
    notes: list[str] = field(default_factory=list)  # what the build ignored or decided, in words
    sidecar_version: int = SIDECAR_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def sidecar_path(plan: str | Path) -> Path:
    return Path(f"{plan}.json")


def layers_path(plan: str | Path) -> Path:
    return Path(f"{plan}.layers.json")


def write_sidecar(plan: str | Path, meta: EngineMeta) -> None:
    with atomic_output(sidecar_path(plan)) as tmp:
        tmp.write_text(meta.to_json())


def read_sidecar(plan: str | Path) -> EngineMeta:
    path = sidecar_path(plan)
    if not path.is_file():
        raise TrtmatteError(f"{plan} has no sidecar {path.name}: trtmatte cannot check what it was built for; "
                            f"rebuild it with `trtmatte build MODEL.onnx -o {plan}`")
    try:
        data = json.loads(path.read_text())
        return EngineMeta(**{k: v for k, v in data.items() if k in EngineMeta.__dataclass_fields__})
    except (ValueError, TypeError) as exc:
        raise TrtmatteError(f"{path} is not a valid trtmatte sidecar ({exc}); rebuild the engine with `trtmatte build`") from None
