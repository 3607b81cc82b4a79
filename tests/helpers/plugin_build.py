"""One CMake build of plugins/ per test session (in a temp dir, from the current sources), shared by
the plugin tests: tests never pick up a stale build/lib of the checkout."""
from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_built: dict = {}


def cmake_build() -> tuple[Path, float]:
    """(build dir, seconds to configure + build); skips when cmake is missing."""
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (needed to build plugins/)")
    if "dir" not in _built:
        build = Path(tempfile.mkdtemp(prefix="trtmatte_cmake_"))
        atexit.register(shutil.rmtree, build, True)
        start = time.perf_counter()
        # the C++ library (cpp/) is built and tested by tests/cpp: not again here
        for cmd in (["cmake", "-S", str(REPO), "-B", str(build), "-DTRTMATTE_BUILD_CPP=OFF"],
                    ["cmake", "--build", str(build), "-j2"]):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            assert r.returncode == 0, f"{' '.join(cmd)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        _built.update(dir=build, seconds=time.perf_counter() - start)
    return _built["dir"], _built["seconds"]


def built_library(name: str) -> str:
    build, _ = cmake_build()
    path = build / "lib" / name
    if not path.is_file():
        pytest.skip(f"{name} was not built: the CUDA library needs nvcc (CUDA toolkit, or set CUDACXX); none found")
    return str(path)
