"""Load a plan, refusing mismatches *before* TensorRT deserializes it.

Order of checks (each failure is one line naming what differs and the rebuild command):
sidecar present -> same TensorRT flavour and version -> required plugins loadable -> a CUDA GPU
present -> that GPU is one the plan targets -> deserialization succeeds.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._lazy import is_available
from ..errors import TrtmatteError
from .flavour import GpuInfo, current_gpu, flavour_label, get_flavour
from .logging_hooks import NO_GPU_NOISE, make_capture_logger
from .plugin_loading import load_plugin_libraries
from .sidecar import EngineMeta, read_sidecar


@dataclass
class LoadedEngine:
    engine: Any  # trt.ICudaEngine
    runtime: Any  # must outlive the engine
    trt: Any  # the TensorRT module that loaded it
    meta: EngineMeta
    gpu: GpuInfo


def _rebuild(meta: EngineMeta, plan) -> str:
    return f"rebuild it: `{meta.rebuild_command}`" if meta.rebuild_command else \
        f"rebuild it with `trtmatte build MODEL.onnx -o {plan}`"


def check_compatible(plan: str | os.PathLike, meta: EngineMeta, flavour, gpu: GpuInfo | None) -> GpuInfo:
    """Raise TrtmatteError if the plan cannot run here; return the GPU it will run on."""
    label = flavour_label(meta.tensorrt_flavour)
    if meta.tensorrt_flavour != flavour.name:
        raise TrtmatteError(f"{plan} was built with {label} {meta.tensorrt_version} but {flavour.label} is in use; "
                            f"{_rebuild(meta, plan)}")
    if meta.tensorrt_version != flavour.version and not meta.version_compatible:
        raise TrtmatteError(f"{plan} was built with {label} {meta.tensorrt_version} but {flavour.label} is installed "
                            f"(plans are tied to the exact version); {_rebuild(meta, plan)}")
    for plugin in meta.plugins:
        lib = plugin.get("library", "")
        if lib and not os.path.isfile(lib):
            what = f"plugin {plugin['name']} v{plugin.get('version', '?')} from " if plugin.get("name") else ""
            raise TrtmatteError(f"{plan} needs {what}plugin library {lib}, which is missing: build it "
                                "(`cmake -S . -B build && cmake --build build`) or rebuild the engine without the plugin")
    if gpu is None:
        raise TrtmatteError(f"no CUDA GPU found: a TensorRT engine ({plan}) runs only on an NVIDIA GPU; "
                            "on this machine use --backend onnxruntime")
    if meta.targets and gpu.sm not in meta.targets:
        raise TrtmatteError(f"{plan} targets {', '.join(meta.targets)} but this GPU is {gpu.name} ({gpu.sm}); "
                            f"{_rebuild(meta, plan).replace('`trtmatte build', '`trtmatte build --compute-capability ' + gpu.sm, 1)}")
    if meta.gpu_name and not meta.hardware_compatible and meta.gpu_name != gpu.name:
        raise TrtmatteError(f"{plan} was built on {meta.gpu_name} ({meta.gpu_compute_capability}) but this GPU is "
                            f"{gpu.name} ({gpu.sm}); {_rebuild(meta, plan)}")
    return gpu


def load(plan: str | os.PathLike, flavour_name: str | None = None, gpu: GpuInfo | None = None) -> LoadedEngine:
    plan = Path(plan)
    if not plan.is_file():
        raise TrtmatteError(f"engine {plan} not found (build it with `trtmatte build MODEL.onnx -o {plan}`)")
    meta = read_sidecar(plan)
    # Prefer the flavour the plan was built with, when it is installed; the version check follows.
    flavour = get_flavour(flavour_name or (meta.tensorrt_flavour if is_available(meta.tensorrt_flavour) else None))
    gpu = check_compatible(plan, meta, flavour, gpu if gpu is not None else current_gpu())
    if meta.plugins:
        load_plugin_libraries(flavour, sorted({p["library"] for p in meta.plugins}))
    trt = flavour.module
    logger = make_capture_logger(trt)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(plan.read_bytes())
    if engine is None:
        errors = [m for m in logger.texts(trt.Logger.ERROR) if NO_GPU_NOISE not in m] or logger.texts(trt.Logger.ERROR)
        reason = " ".join(errors[-1].split()) if errors else "no message from TensorRT"
        raise TrtmatteError(f"{flavour.label} could not deserialize {plan}: {reason}; {_rebuild(meta, plan)}")
    return LoadedEngine(engine, runtime, trt, meta, gpu)
