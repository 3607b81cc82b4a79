"""The parts of benchmarks/gpu/run_all.py that are new with issue #31, without a GPU: arguments,
output schema and failure paths of compute_sanitizer.py (a missing nvcc or compute-sanitizer is a
skip line naming it; the drivers it sanitizes compile), rtx_hopper.py (TensorRT-RTX: a missing
runtime is an error naming the carry; the dry run builds a real plan, records the load's refusal
and the plugin probe) and onnxruntime_cuda.py (no CUDA provider here: a skip line with the wheel's
measured size; the dry run's plumbing on the CPU provider)."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from helpers.gpu_scripts import load_script, run_script


# ------------------------------------------------------------------ compute_sanitizer.py

@pytest.fixture(scope="module")
def sanitizer():
    return load_script("compute_sanitizer")


def test_sanitizer_arguments(sanitizer):
    args = sanitizer.parse_args([])
    assert args.tools == ["memcheck", "racecheck", "initcheck", "synccheck"] and args.arch == "90"
    assert sanitizer.parse_args(["--tools", "racecheck"]).tools == ["racecheck"]
    for bad in (["--tools", "leakcheck"], ["--drivers", "nope"], ["--arch", "sm90"], ["--tool-timeout", "0"]):
        with pytest.raises(SystemExit):
            sanitizer.parse_args(bad)


def test_error_count_sums_the_summaries(sanitizer):
    out = ("========= COMPUTE-SANITIZER\nok   eager\n========= ERROR SUMMARY: 0 errors\n"
           "========= Invalid __global__ write of size 4 bytes\n========= ERROR SUMMARY: 3 errors\n")
    assert sanitizer.error_count(out) == 3
    assert sanitizer.error_count("========= ERROR SUMMARY: 1 error\n") == 1
    assert sanitizer.error_count("Segmentation fault") is None  # no summary: not "0 errors"


def test_missing_nvcc_is_a_skip_line_naming_it(tmp_path):
    r = run_script("compute_sanitizer", "--out", str(tmp_path), "--nvcc", str(tmp_path / "no-nvcc"),
                   "--compute-sanitizer", str(tmp_path / "no-cs"))
    report = json.loads((tmp_path / "gpu_compute_sanitizer.json").read_text())
    assert r.returncode == 0 and report["skipped"].startswith("nvcc and compute-sanitizer not found")
    assert report["tools"] == {} and "builds" not in report


def test_missing_compute_sanitizer_is_a_skip_line_naming_it(tmp_path):
    r = run_script("compute_sanitizer", "--out", str(tmp_path), "--nvcc", shutil.which("true"),
                   "--compute-sanitizer", str(tmp_path / "no-cs"))
    report = json.loads((tmp_path / "gpu_compute_sanitizer.json").read_text())
    assert r.returncode == 0 and report["skipped"].startswith("compute-sanitizer not found")
    assert report["nvcc"]["path"] == shutil.which("true") and report["compute_sanitizer"] is None


def test_dry_run_builds_what_it_would_sanitize(sanitizer, tmp_path):
    nvcc = sanitizer.find_nvcc(None)
    if nvcc is None:
        pytest.skip("nvcc is needed to build the drivers (CUDACXX, PATH or /usr/local/cuda/bin)")
    # the blend_kernel driver is tests/gpu/plugin_kernel.py's, compiled by its own test already
    r = run_script("compute_sanitizer", "--dry-run", "--drivers", "cuda_paths", "--out", str(tmp_path), "--work",
                   str(tmp_path / "work"), timeout=600)
    report = json.loads((tmp_path / "gpu_compute_sanitizer.json").read_text())
    assert r.returncode == 0, r.stdout + r.stderr + json.dumps(report.get("builds"))[-3000:]
    assert {name: b["rc"] for name, b in report["builds"].items()} == {"cuda_paths": 0}
    assert sorted(report["planned"]) == ["initcheck", "memcheck", "racecheck", "synccheck"]
    assert report["device"] == "cpu (dry run)" and report["tools"] == {}
    assert os.access(tmp_path / "work" / "cuda_paths", os.X_OK)
    # without a GPU the library's CUDA layer answers with its one-line reason, exit status 100
    assert "no CUDA GPU" in __import__("subprocess").run([str(tmp_path / "work" / "cuda_paths")], capture_output=True,
                                                         text=True, timeout=60).stdout


# ------------------------------------------------------------------ rtx_hopper.py

@pytest.fixture(scope="module")
def rtx():
    return load_script("rtx_hopper")


def test_rtx_arguments(rtx):
    args = rtx.parse_args([])
    assert (args.precisions, args.size, args.runs, args.photos) == (["fp32", "fp16", "int8"], 800, 50, 3)
    assert args.graph.endswith("late_fusion_lite_demo.onnx") and os.path.isfile(args.graph)
    dry = rtx.parse_args(["--dry-run", "--precisions", "fp16"])
    assert (dry.size, dry.runs, dry.warmup, dry.photos, dry.precisions) == (320, 1, 0, 1, ["fp16"])
    for bad in (["--precisions", "bf16"], ["--size", "2048"], ["--runs", "0"]):
        with pytest.raises(SystemExit):
            rtx.parse_args(bad)


def test_a_missing_runtime_is_an_error_naming_the_carry(tmp_path):
    site = tmp_path / "site" / "tensorrt_rtx"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("raise ImportError('libtensorrt_rtx.so.1: cannot open shared object file')\n")
    r = run_script("rtx_hopper", "--out", str(tmp_path), "--rtx-site", str(tmp_path / "site"))
    report = json.loads((tmp_path / "gpu_tensorrt_rtx.json").read_text())
    assert r.returncode == 1 and report["ran"] is False and report["precisions"] == {}
    assert "libtensorrt_rtx.so.1: cannot open shared object file" in report["error"] and "carry_rtx.sh" in report["error"]


def test_rtx_dry_run_builds_records_the_refusal_and_probes_plugins(tmp_path, tiny_onnx):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (pip install 'trtmatte[rtx]') builds the plans")
    # the tiny graph keeps onnxruntime's part short; the plugin probe fuses the bundled graph's blend
    r = run_script("rtx_hopper", "--dry-run", "--precisions", "fp32", "--graph", str(tiny_onnx), "--out",
                   str(tmp_path), "--work", str(tmp_path / "work"), timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_tensorrt_rtx.json").read_text())
    assert report["device"] == "cpu (dry run)" and report["ran"] is False and report["tensorrt_rtx"]
    assert isinstance(report["sm90_is_a_builder_target"], bool) and "CURRENT" in report["compute_capabilities"]
    fp32 = report["precisions"]["fp32"]
    build = fp32["attempts"][0]
    assert build["route"] == "trtmatte build" and build["plan_mib"] > 0  # a real plan, built without a GPU
    assert "no CUDA GPU found" in build["load_error"]  # the loader's own refusal, recorded
    # onnxruntime stood in for the session: the α and latency plumbing ran, labelled as such
    assert fp32["stand_in"].startswith("onnxruntime") and fp32["label"].startswith("onnxruntime")
    assert fp32["latency_ms"] > 0 and fp32["max_abs_dalpha_vs_onnxruntime"] == 0.0
    plugins = report["plugins"]
    assert plugins["accepts_plugins"] is False and "no plugin layers" in plugins["steps"]["trtmatte_refusal"]["error"]
    assert plugins["steps"]["fuse"]["node"] == "trtmatte_FusedBlend" and "parse" in plugins["steps"]


# ------------------------------------------------------------------ onnxruntime_cuda.py

def test_no_cuda_provider_is_a_skip_line_with_the_wheel_size(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider: the part measures instead of skipping")
    r = run_script("onnxruntime_cuda", "--out", str(tmp_path))
    report = json.loads((tmp_path / "gpu_onnxruntime_cuda.json").read_text())
    assert r.returncode == 0 and "no CUDAExecutionProvider" in report["skipped"]
    assert "255,569,273 bytes" in report["skipped"] and "64 MiB" in report["skipped"]


def test_onnxruntime_cuda_dry_run(tmp_path, tiny_onnx):
    r = run_script("onnxruntime_cuda", "--dry-run", "--graph", str(tiny_onnx), "--out", str(tmp_path), timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_onnxruntime_cuda.json").read_text())
    assert report["device"] == "cpu (dry run)" and report["stand_in"].startswith("CPU provider")
    assert report["latency_ms"] > 0 and report["max_abs_dalpha_vs_cpu_provider"] == 0.0
