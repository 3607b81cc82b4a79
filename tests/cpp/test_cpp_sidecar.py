"""The C++ plan checks against Python's: sidecars written by trtmatte.engine.sidecar, refused or
accepted by cpp/src/compat.cpp (through cpp/tests/check_plan.cpp) exactly as
trtmatte.engine.loader.check_compatible does, with the same one-line messages. Only the no-GPU
hint differs: Python names its --backend flag, C++ the ONNX Runtime backend."""
from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from trtmatte.engine.flavour import Flavour, GpuInfo
from trtmatte.engine.loader import check_compatible
from trtmatte.engine.sidecar import EngineMeta, read_sidecar, write_sidecar
from trtmatte.errors import TrtmatteError

A100 = GpuInfo("NVIDIA A100-SXM4-80GB", (8, 0))
H100 = GpuInfo("NVIDIA H100 80GB HBM3", (9, 0))
RTX3090 = GpuInfo("NVIDIA GeForce RTX 3090", (8, 6))
STANDARD = EngineMeta(tensorrt_flavour="tensorrt", tensorrt_version="10.3.0.26", precision="fp16",
                      profile={"image": {"min": [1, 64, 64, 3], "opt": [1, 800, 800, 3], "max": [1, 1024, 1024, 3]}},
                      onnx_sha256="ab" * 32, onnx_path="/m/late_fusion.onnx", gpu_name=A100.name,
                      gpu_compute_capability="SM80", onnx_metadata={"variant": "late_fusion_lite"},
                      rebuild_command="trtmatte build /m/late_fusion.onnx -o m.plan --min 64x64 --opt 800x800 --max 1024x1024 --batch 1,1,1")
RTX = replace(STANDARD, tensorrt_flavour="tensorrt_rtx", tensorrt_version="1.7.1.116", gpu_name="",
              gpu_compute_capability="", targets=["SM86", "SM89"])

CASES = {  # name: (sidecar, flavour in use, its version, GPU or None)
    "accepted": (STANDARD, "tensorrt", "10.3.0.26", A100),
    "other flavour": (RTX, "tensorrt", "10.3.0.26", RTX3090),
    "other version": (STANDARD, "tensorrt", "10.4.0.1", A100),
    "version-compatible": (replace(STANDARD, version_compatible=True), "tensorrt", "10.8.0.43", A100),
    "plugin missing": (replace(STANDARD, plugins=[{"name": "FusedBlend", "version": "1", "namespace": "trtmatte",
                                                   "library": "/nowhere/libtrtmatte_plugins.so"}]), "tensorrt", "10.3.0.26", A100),
    "unnamed plugin missing": (replace(STANDARD, plugins=[{"library": "/nowhere/lib.so"}]), "tensorrt", "10.3.0.26", A100),
    "no GPU": (STANDARD, "tensorrt", "10.3.0.26", None),
    "not a target": (RTX, "tensorrt_rtx", "1.7.1.116", H100),
    "a target": (RTX, "tensorrt_rtx", "1.7.1.116", RTX3090),
    "other GPU": (STANDARD, "tensorrt", "10.3.0.26", H100),
    "hardware-compatible": (replace(STANDARD, hardware_compatible=True), "tensorrt", "10.3.0.26", H100),
    "no rebuild command": (replace(RTX, rebuild_command=""), "tensorrt_rtx", "1.7.1.116", A100),
}


def python_says(plan: str, meta: EngineMeta, flavour: str, version: str, gpu) -> str:
    try:
        check_compatible(plan, meta, Flavour(None, flavour, version), gpu)
        return "ok"
    except TrtmatteError as exc:
        return str(exc)


def cpp_says(cpp_build, plan: str, flavour: str, version: str, gpu) -> str:
    gpu_args = [gpu.name, *map(str, gpu.compute_capability)] if gpu else []
    r = subprocess.run([str(cpp_build.bin("check_plan")), plan, flavour, version, *gpu_args], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.parametrize("case", CASES)
def test_same_verdict_and_message_as_python(cpp_build, tmp_path, case):
    meta, flavour, version, gpu = CASES[case]
    plan = str(tmp_path / "m.plan")
    write_sidecar(plan, meta)
    assert read_sidecar(plan) == meta  # what the C++ side reads is what Python wrote and reads back
    py, cpp = python_says(plan, meta, flavour, version, gpu), cpp_says(cpp_build, plan, flavour, version, gpu)
    assert "\n" not in cpp
    if gpu is None:
        head = "no CUDA GPU found: a TensorRT engine (" + plan + ") runs only on an NVIDIA GPU; on this machine "
        assert py.startswith(head) and cpp.startswith(head), (py, cpp)
    else:
        assert cpp == py
    assert (cpp == "ok") == (case in ("accepted", "version-compatible", "a target", "hardware-compatible"))


def test_missing_and_invalid_sidecars_worded_as_python(cpp_build, tmp_path):
    plan = str(tmp_path / "m.plan")
    with pytest.raises(TrtmatteError) as missing:
        read_sidecar(plan)
    assert cpp_says(cpp_build, plan, "tensorrt", "10.3.0.26", A100) == str(missing.value)
    (tmp_path / "m.plan.json").write_text('{"tensorrt_flavour": "tensorrt"')
    with pytest.raises(TrtmatteError) as invalid:
        read_sidecar(plan)
    cpp = cpp_says(cpp_build, plan, "tensorrt", "10.3.0.26", A100)
    # the parser's own words in the parentheses differ; what is wrong and the fix do not
    assert cpp.split(" (")[0] == str(invalid.value).split(" (")[0] == f"{plan}.json is not a valid trtmatte sidecar"
    assert cpp.endswith("); rebuild the engine with `trtmatte build`") and str(invalid.value).endswith(
        "); rebuild the engine with `trtmatte build`")
