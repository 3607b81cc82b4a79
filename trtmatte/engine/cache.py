"""Engine cache: build once per (ONNX, precision, profile, TensorRT version, GPU target), reuse after.

Root: ``$TRTMATTE_CACHE`` or ``~/.cache/trtmatte/engines``. Each entry is a directory named by
the key's hash holding ``engine.plan`` and its sidecar/layer report; a build goes to a temporary
file first, so a crash never leaves a half-written entry that a later run would trust.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from ..fileio import sha256_file
from .builder import BuildOptions, BuildResult, build_engine, onnx_precision
from .flavour import current_gpu, get_flavour
from .sidecar import read_sidecar


def default_root() -> Path:
    return Path(os.environ.get("TRTMATTE_CACHE", Path.home() / ".cache" / "trtmatte" / "engines"))


class EngineCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root else default_root()

    def key(self, onnx_path: str | os.PathLike, opts: BuildOptions) -> dict:
        flavour = get_flavour(opts.flavour)
        gpu = current_gpu()
        target = flavour.target_key(opts.compute_capabilities, gpu)
        profile = {k: v for k, v in asdict(opts).items() if k in ("min_hw", "opt_hw", "max_hw", "batch")}
        return {"onnx_sha256": sha256_file(onnx_path), "precision": onnx_precision(onnx_path)[0],
                "profile": profile, "tensorrt": f"{flavour.name} {flavour.version}", "target": target,
                "plugins": sorted(opts.plugins), "hardware_compatible": opts.hardware_compatible,
                # only when set, so the keys of existing GPU entries stay what they were
                **({"dla": [opts.dla_core, opts.gpu_fallback]} if opts.dla_core is not None else {})}

    def entry(self, key: dict) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        return self.root / digest / "engine.plan"

    def get_or_build(self, onnx_path: str | os.PathLike, opts: BuildOptions | None = None) -> tuple[Path, bool]:
        """(plan path, True if it came from the cache)."""
        opts = opts or BuildOptions()
        plan = self.entry(self.key(onnx_path, opts))
        if plan.is_file() and plan.with_name("engine.plan.json").is_file():
            meta = read_sidecar(plan)
            if meta.plan_sha256 and meta.plan_sha256 == sha256_file(plan):
                return plan, True
        plan.parent.mkdir(parents=True, exist_ok=True)
        result: BuildResult = build_engine(onnx_path, plan, opts)
        return result.plan, False
