"""The scripts of benchmarks/gpu/ (measurements) and tests/gpu/ (GPU correctness checks) run on a GPU
machine from a copied repo, not as installed modules: the tests import them from their files and run
their CPU dry runs the way the GPU machine runs them."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
GPU_SCRIPTS = REPO / "benchmarks" / "gpu"
GPU_CHECKS = REPO / "tests" / "gpu"


def script_path(name: str) -> Path:
    """benchmarks/gpu/NAME.py, or tests/gpu/NAME.py for the correctness checks."""
    path = GPU_SCRIPTS / f"{name}.py"
    return path if path.is_file() else GPU_CHECKS / f"{name}.py"


def load_script(name: str) -> ModuleType:
    """benchmarks/gpu/NAME.py (or tests/gpu/NAME.py) as a module (its main() is not run)."""
    spec = importlib.util.spec_from_file_location(f"gpu_script_{name}", script_path(name))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def run_script(name: str, *args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python benchmarks/gpu/NAME.py ARGS`` with the repo on PYTHONPATH, output captured."""
    return subprocess.run([sys.executable, str(script_path(name)), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {}), "PYTHONPATH": str(REPO)})
