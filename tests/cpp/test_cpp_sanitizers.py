"""libtrtmatte and its ctest suite under AddressSanitizer and UndefinedBehaviorSanitizer: a second,
small build (library and tests only: no examples, no TensorRT header checks, -O1) whose ctest run on
the bundled graph (the C ABI misuse cases in test_c_api.c included: double close, use after close,
bogus handles, option structs of other sizes, out-of-range enums; and with a CUDA toolkit, the
TensorRT logger's lifetime and the device guard against their fakes) must end with 0 sanitizer
reports. About 3 minutes on 2 cores."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def onnxruntime_library() -> Path:
    import onnxruntime

    found = sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))
    if not found:
        pytest.fail(f"the onnxruntime wheel at {Path(onnxruntime.__file__).parent} has no capi/libonnxruntime.so.*")
    return found[-1]


def run(cmd: list, what: str) -> None:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        pytest.fail(f"{what} failed ({' '.join(map(str, cmd))}): {(r.stdout + r.stderr)[-3000:]}", pytrace=False)

SANITIZE = "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"


@pytest.fixture(scope="module")
def sanitized_build(tmp_path_factory):
    for tool in ("cmake", "g++"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run scripts/install-system-packages.sh", pytrace=False)
    build = tmp_path_factory.mktemp("asan")
    cuda = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
    tensorrt = ([f"-DTensorRT_ROOT={REPO / 'third_party/tensorrt/11.1'}", "-DTRTMATTE_WITH_TENSORRT=ON",
                 f"-DCUDAToolkit_ROOT={cuda}"]
                if (cuda / "include" / "cuda_runtime_api.h").is_file() else ["-DTRTMATTE_WITH_TENSORRT=OFF"])
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run(["cmake", "-S", str(REPO), "-B", str(build), *generator, "-DCMAKE_BUILD_TYPE=Debug",
         f"-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g {SANITIZE}", f"-DCMAKE_C_FLAGS_DEBUG=-O1 -g {SANITIZE}",
         f"-DCMAKE_EXE_LINKER_FLAGS={SANITIZE}", f"-DCMAKE_SHARED_LINKER_FLAGS={SANITIZE}",
         "-DTRTMATTE_BUILD_PLUGINS=OFF", "-DTRTMATTE_BUILD_CPP=ON", "-DTRTMATTE_BUILD_TESTS=ON",
         "-DTRTMATTE_BUILD_EXAMPLES=OFF", *tensorrt, "-DTRTMATTE_WITH_ONNXRUNTIME=ON",
         "-DTRTMATTE_WARNINGS_AS_ERRORS=ON", f"-DTRTMATTE_ONNXRUNTIME_LIBRARY={onnxruntime_library()}"],
        "configuring the sanitizer build")
    run(["cmake", "--build", str(build), "-j2"], "building the sanitizer build")
    return build


def test_ctest_under_asan_and_ubsan_has_no_reports(sanitized_build, graph):
    env = {**os.environ, "TRTMATTE_TEST_ONNX": str(graph),
           # ONNX Runtime is not instrumented; its process-lifetime objects are reachable, not leaks.
           "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:halt_on_error=1",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
    needed = subprocess.run(["readelf", "-d", str(sanitized_build / "lib" / "libtrtmatte.so")], capture_output=True,
                            text=True).stdout
    assert "libasan" in needed and "libubsan" in needed, needed  # the build is instrumented
    r = subprocess.run(["ctest", "-V", "--output-on-failure"], cwd=sanitized_build, capture_output=True, text=True,
                       timeout=900, env=env)
    log = r.stdout + r.stderr
    reports = re.findall(r"(ERROR: (?:Address|Leak)Sanitizer.*|runtime error: .*)", log)
    assert reports == [], "\n".join(reports[:10]) + log[-4000:]
    assert r.returncode == 0, log[-6000:]
    assert "test_c_api: all passed" in log and "TRTMATTE_TEST_ONNX is not set" not in log
