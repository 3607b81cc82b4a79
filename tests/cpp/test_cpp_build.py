"""cpp/ builds; its ctest suite passes (none skipped); the TensorRT sources and the FusedBlend plugin
compile against TensorRT 10.3 and 11.1 headers; libtrtmatte links no backend and exports only its
API; the C++ contract constants are Python's."""
from __future__ import annotations

import os
import re
import subprocess

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CTESTS = {"sidecar", "compat", "buffers", "lru_cache", "c_api", "exif"}
TENSORRT_CTESTS = {"tensorrt_logger", "device_guard"}  # against fakes, where the TensorRT backend is built


def test_ctest_passes_and_skips_nothing(cpp_build, graph):
    listed = subprocess.run(["ctest", "-N"], cwd=cpp_build.dir, capture_output=True, text=True, timeout=60).stdout
    expected = CTESTS | (TENSORRT_CTESTS if cpp_build.with_tensorrt else set())
    assert set(re.findall(r"Test +#\d+: (\S+)", listed)) == expected, listed
    r = subprocess.run(["ctest", "-V", "--output-on-failure"], cwd=cpp_build.dir, capture_output=True, text=True,
                       timeout=600, env={**os.environ, "TRTMATTE_TEST_ONNX": str(graph)})
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert f"100% tests passed, 0 tests failed out of {len(expected)}" in r.stdout
    assert "Skipped" not in r.stdout and "TRTMATTE_TEST_ONNX is not set" not in r.stdout
    assert r.stdout.count(": all passed") == len(expected)


def test_tensorrt_sources_and_plugin_compile_against_10_3_and_11_1(cpp_build):
    if not cpp_build.with_tensorrt:
        pytest.skip("no CUDA toolkit (cuda_runtime_api.h, which TensorRT's headers include; set CUDA_HOME): "
                    "the TensorRT sources were not compiled")
    for version in ("10.3.0", "11.1.0"):
        assert f"compile-checking the TensorRT sources and plugin against TensorRT {version} headers" in cpp_build.configure_log
        objects = {p.name for p in cpp_build.dir.rglob(f"trtmatte_tensorrt_check_{version.replace('.', '_')}.dir/**/*.o")}
        assert objects == {"tensorrt_library.cpp.o", "tensorrt_session.cpp.o", "FusedBlendPlugin.cpp.o"}, objects
    # ... and the library itself carries the TensorRT backend, built against the 11.1 headers
    assert "tensorrt: ON (headers 11.1.0" in cpp_build.configure_log
    binary = cpp_build.library.read_bytes()
    assert b"createInferRuntime_INTERNAL" in binary and b"libnvinfer.so." in binary  # looked up at run time


def test_library_links_no_backend_and_exports_only_its_api(cpp_build):
    dynamic = subprocess.run(["readelf", "-d", str(cpp_build.library)], capture_output=True, text=True).stdout
    needed = set(re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic))
    assert needed and not {n for n in needed if re.search(r"onnxruntime|nvinfer|cuda|stb|httplib", n)}, needed
    assert "libtrtmatte.so.0.1" in dynamic or re.search(r"SONAME.*libtrtmatte\.so\.\d", dynamic)
    symbols = subprocess.run(["nm", "-D", "-C", "--defined-only", str(cpp_build.library)], capture_output=True,
                             text=True).stdout.splitlines()
    names = [line.split(" ", 2)[2] for line in symbols if line.count(" ") >= 2]
    foreign = [n for n in names if not (n.startswith("trtmatte_") or n.startswith("trtmatte::") or "trtmatte::Error" in n)]
    assert names and not foreign, foreign[:20]


def test_contract_constants_are_pythons():
    from trtmatte.contract import names

    text = (REPO / "cpp/src/contract.hpp").read_text()
    found = dict(re.findall(r'constexpr const char\* (k\w+) = "([^"]*)"', text))
    assert found == {"kImage": names.IMAGE, "kTrimap": names.TRIMAP, "kAlpha": names.ALPHA,
                     "kMetadataPrefix": names.METADATA_PREFIX, "kVariant": names.VARIANT,
                     "kPrecision": names.PRECISION, "kInt8Body": names.INT8_BODY, "kFamily": names.FAMILY, "kInputs": names.INPUTS,
                     "kTrimapSource": names.TRIMAP_SOURCE}


def test_build_time(cpp_build):
    # Configure + build of cpp/ (library, examples, tests, two TensorRT header checks) on 2 cores.
    print(f"cpp/ configure + build: {cpp_build.seconds:.0f} s")
    assert cpp_build.seconds < 600
