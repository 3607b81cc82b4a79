"""The fused-blend CUDA kernel on a real GPU: correctness, compute-sanitizer, timing vs unfused PyTorch.

Usage (repo root, on the GPU machine; the repo is copied, not installed; no TensorRT needed):
    PYTHONPATH=. timeout 230 python3 tests/gpu/plugin_kernel.py --out "${OUT:-/tmp/out}"
  (or: OUT=/some/dir bash tests/gpu/plugin_kernel.sh)

Steps, each recorded even if a later one fails (the whole run takes about a minute on an H100):
1. build: nvcc (sm_90 only, or --arch) -> libtrtmatte_blend_kernel.so, g++ -> libtrtmatte_blend_cpu.so,
   and a small C++ driver of the launcher;
2. compute-sanitizer memcheck (+ initcheck) on the driver: exact-size allocations, odd sizes,
   misaligned pointers (scalar path), a 4-wide tail, a crop, an empty batch;
3. correctness: the kernel through ctypes on PyTorch CUDA tensors, batch 2 at 2048x2048, every
   input/output dtype combination, plus crop / odd-size / misaligned cases, against the kernel's
   CPU twin (same per-pixel code) and the float64 NumPy reference;
4. the GPU tests of test_kernel.py (tests/fused_blend/; they skip on machines without a
   GPU), if pytest is there;
5. timing at 800x800 and 2048x2048 (batch 1): the fused kernel vs the unfused PyTorch ops (3 sigmoids,
   eq. 2, clamp, cast), each eager and as a CUDA graph, CUDA events; bandwidth = the minimum bytes
   (3 inputs read + alpha written once) / time, against the card's peak (--peak-gbs, 3350 for H100 SXM).
Writes under --out: plugin_kernel.json (everything) and plugin_kernel.log (this output).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run from a copy of the repo, not installed
from trtmatte.shapes import ShapeError, parse_hw  # noqa: E402

BLEND = REPO / "plugins" / "fused_blend"
DTYPE_PAIRS = [(i, o) for i in ("float32", "float16") for o in ("float32", "float16", "uint8")]
SIZE = {"float32": 4, "float16": 2, "uint8": 1}

DRIVER = r"""
// compute-sanitizer target: every launcher path on exact-size device allocations.
#include "fused_blend.h"
#include <cstdio>
#include <cuda_runtime.h>
struct Case { int in, out; long n, h, w, oh, ow; int offset, logits; const char* what; };
int main() {
    const Case cases[] = {
        {0, 2, 2, 37, 53, 37, 53, 0, 1, "f32->u8 odd size, 4-wide + tail"},
        {1, 1, 1, 64, 64, 64, 64, 1, 1, "f16->f16 misaligned (scalar path)"},
        {0, 0, 2, 37, 53, 30, 41, 0, 0, "f32->f32 crop, probabilities"},
        {1, 2, 1, 1023, 1027, 1023, 1027, 0, 1, "f16->u8 1023x1027"},
        {0, 1, 3, 5, 3, 5, 3, 1, 1, "f32->f16 tiny misaligned"},
        {1, 0, 1, 2, 2, 2, 2, 0, 1, "f16->f32 4 pixels exactly"},
        {0, 0, 0, 4, 4, 4, 4, 0, 1, "empty batch"},
    };
    const int in_size[] = {4, 2}, out_size[] = {4, 2, 1};
    int failures = 0;
    for (const Case& c : cases) {
        const size_t in_bytes = (size_t)(c.n * c.h * c.w + c.offset) * in_size[c.in];
        const size_t out_bytes = (size_t)(c.n * c.oh * c.ow + c.offset) * out_size[c.out];
        char *f = nullptr, *b = nullptr, *t = nullptr, *a = nullptr;
        if (in_bytes) { cudaMalloc(&f, in_bytes); cudaMalloc(&b, in_bytes); cudaMalloc(&t, in_bytes);
                        cudaMemset(f, 0, in_bytes); cudaMemset(b, 0, in_bytes); cudaMemset(t, 0, in_bytes); }
        if (out_bytes) cudaMalloc(&a, out_bytes);
        const int off_in = c.offset * in_size[c.in], off_out = c.offset * out_size[c.out];
        int status = trtmatte_fused_blend(f ? f + off_in : f, b ? b + off_in : b, t ? t + off_in : t, c.in,
                                          a ? a + off_out : a, c.out, c.n, c.h, c.w, c.oh, c.ow, c.logits, 0);
        cudaError_t sync = cudaDeviceSynchronize();
        printf("%-40s launch %d sync %d\n", c.what, status, (int)sync);
        failures += status != 0 || sync != cudaSuccess;
        cudaFree(f); cudaFree(b); cudaFree(t); cudaFree(a);
    }
    return failures;
}
"""


class Log:
    def __init__(self, path: Path):
        self.file = open(path, "w")

    def __call__(self, *parts):
        line = " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.file.write(line + "\n")
        self.file.flush()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("OUT", "/tmp/trtmatte-gpu-out"), help="output folder (default $OUT)")
    p.add_argument("--arch", default="90", help="SM to compile for (default 90 = H100)")
    p.add_argument("--sizes", default="800x800,2048x2048", help="timing sizes HxW, comma-separated")
    p.add_argument("--check-size", default="2048x2048", help="correctness size HxW (batch 2)")
    p.add_argument("--iters", type=int, default=50, help="launches per timed repetition")
    p.add_argument("--reps", type=int, default=7, help="timed repetitions (median reported)")
    p.add_argument("--peak-gbs", type=float, default=3350.0, help="the card's memory bandwidth, GB/s (H100 SXM: 3350)")
    p.add_argument("--skip-sanitizer", action="store_true")
    p.add_argument("--skip-pytest", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit (no GPU, no build)")
    args = p.parse_args(argv)
    try:
        args.sizes = [parse_hw(s) for s in args.sizes.split(",")]
        args.check_size = parse_hw(args.check_size)
    except ShapeError as exc:
        p.error(str(exc))
    if args.iters < 1 or args.reps < 1:
        p.error("--iters and --reps must be positive")
    return args




def build_commands(build: Path, arch: str) -> dict[str, list[str]]:
    nvcc = os.environ.get("CUDACXX") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    gen = f"-gencode=arch=compute_{arch},code=sm_{arch}"
    return {
        "kernel": [nvcc, "-O3", "-std=c++17", "-Xcompiler", "-fPIC", "-shared", gen, f"-I{BLEND}",
                   "-o", str(build / "libtrtmatte_blend_kernel.so"), str(BLEND / "fused_blend.cu")],
        "cpu": [shutil.which("g++") or "g++", "-O2", "-std=c++17", "-shared", "-fPIC", f"-I{BLEND}",
                "-o", str(build / "libtrtmatte_blend_cpu.so"), str(BLEND / "blend_cpu.cpp")],
        "driver": [nvcc, "-O2", "-std=c++17", gen, f"-I{BLEND}", "-o", str(build / "blend_driver"),
                   str(build / "blend_driver.cu"), str(BLEND / "fused_blend.cu")],
    }


def run_build(build: Path, arch: str, log: Log) -> dict:
    build.mkdir(parents=True, exist_ok=True)
    (build / "blend_driver.cu").write_text(DRIVER)
    result = {}
    for name, cmd in build_commands(build, arch).items():
        start = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        result[name] = {"seconds": round(time.perf_counter() - start, 2), "rc": r.returncode}
        log(f"build {name}: rc {r.returncode}, {result[name]['seconds']} s")
        if r.returncode:
            log(r.stdout[-2000:], r.stderr[-2000:])
            raise RuntimeError(f"build of {name} failed")
    return result


def run_sanitizer(build: Path, log: Log) -> dict:
    tool = shutil.which("compute-sanitizer") or "/usr/local/cuda/bin/compute-sanitizer"
    out = {}
    for check in ("memcheck", "initcheck"):
        r = subprocess.run([tool, "--tool", check, "--error-exitcode", "9", str(build / "blend_driver")],
                           capture_output=True, text=True, timeout=120)
        summary = [line for line in r.stdout.splitlines() if "ERROR SUMMARY" in line]
        out[check] = {"rc": r.returncode, "summary": summary[-1] if summary else r.stdout[-300:],
                      "cases": [line for line in r.stdout.splitlines() if " launch " in line]}
        log(f"compute-sanitizer {check}: rc {r.returncode}, {out[check]['summary']}")
        if r.returncode:
            log(r.stdout[-3000:], r.stderr[-1000:])
    return out


def correctness(torch, lib, cpu_path: str, size: tuple[int, int], log: Log) -> list[dict]:
    from trtmatte.fused_blend import library
    from trtmatte.fused_blend.blend_op import FusedBlendAttrs, reference_alpha

    tdt = {"float32": torch.float32, "float16": torch.float16, "uint8": torch.uint8}
    results = []
    h, w = size
    cases = [((2, 1, h, w), in_d, out_d, (0, 0), 0) for in_d, out_d in DTYPE_PAIRS]
    cases += [((2, 1, h, w), "float32", "uint8", (h - 48, w - 49), 0),  # crop
              ((1, 1, 999, 1001), "float16", "float32", (0, 0), 0),  # odd size
              ((3, 1, 257, 263), "float32", "float16", (0, 0), 1),  # misaligned -> scalar path
              ((2, 1, 0, 64), "float16", "uint8", (0, 0), 0)]  # empty
    g = torch.Generator(device="cuda").manual_seed(0)
    for shape, in_d, out_d, crop, offset in cases:
        attrs = FusedBlendAttrs(alpha_dtype=out_d, crop_hw=crop)
        count = int(np.prod(shape))
        dev = [(torch.randn(count + offset, generator=g, device="cuda") * 6).to(tdt[in_d])[offset:] for _ in range(3)]
        out_shape = (shape[0], 1, *(crop if attrs.cropped else shape[2:]))
        out = torch.empty(int(np.prod(out_shape)) + offset, dtype=tdt[out_d], device="cuda")[offset:]
        library.launch(*(d.data_ptr() for d in dev), in_d, out.data_ptr(), shape, attrs,
                       torch.cuda.current_stream().cuda_stream, lib)
        torch.cuda.synchronize()
        got = out.cpu().numpy().reshape(out_shape).astype(np.float64)
        host = [d.cpu().numpy().reshape(shape) for d in dev]
        twin = library.run_cpu(*host, attrs, cpu_path).astype(np.float64)
        ref = reference_alpha(*host, attrs).astype(np.float64)
        entry = {"shape": list(shape), "in": in_d, "out": out_d, "crop": list(crop), "misaligned": bool(offset),
                 "max_abs_vs_cpu_twin": float(np.abs(got - twin).max()) if got.size else 0.0,
                 "max_abs_vs_numpy": float(np.abs(got - ref).max()) if got.size else 0.0,
                 "mismatch_vs_cpu_twin": int((got != twin).sum())}
        tol = {"float32": 2e-6, "float16": 2 ** -11, "uint8": 1.0}[out_d]
        entry["ok"] = entry["max_abs_vs_cpu_twin"] <= tol and entry["max_abs_vs_numpy"] <= max(tol, 2 ** -11 if out_d == "float16" else 0)
        results.append(entry)
        log(f"check {str(shape):>20} {in_d}->{out_d} crop {crop} misaligned {bool(offset)}: vs twin "
            f"{entry['max_abs_vs_cpu_twin']:.2e} ({entry['mismatch_vs_cpu_twin']} differ), vs numpy "
            f"{entry['max_abs_vs_numpy']:.2e} -> {'ok' if entry['ok'] else 'FAIL'}")
    return results


def time_ms(torch, fn, iters: int, reps: int) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(iters):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / iters)
    return statistics.median(times)


def time_graph_ms(torch, fn, iters: int, reps: int) -> float:
    """The same work captured as one CUDA graph of ``iters`` calls: no host launch overhead."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(iters):
            fn()
    return time_ms(torch, graph.replay, 1, reps) / iters


def timing(torch, lib_path: str, sizes, iters: int, reps: int, peak_gbs: float, log: Log) -> list[dict]:
    from trtmatte.fused_blend import library
    from trtmatte.fused_blend.blend_op import KERNEL_DTYPES

    lib = library.load_kernel_library(lib_path)
    tdt = {"float32": torch.float32, "float16": torch.float16, "uint8": torch.uint8}
    rows = []
    for h, w in sizes:
        for in_d, out_d in DTYPE_PAIRS:
            fg, bg, beta = (torch.randn(1, 1, h, w, device="cuda").mul_(6).to(tdt[in_d]) for _ in range(3))
            out = torch.empty(1, 1, h, w, dtype=tdt[out_d], device="cuda")
            ptrs = (fg.data_ptr(), bg.data_ptr(), beta.data_ptr(), KERNEL_DTYPES[in_d], out.data_ptr(), KERNEL_DTYPES[out_d])

            def fused():
                status = lib.trtmatte_fused_blend(*ptrs, 1, h, w, h, w, 1, torch.cuda.current_stream().cuda_stream)
                if status:
                    raise RuntimeError(f"launch failed: CUDA error {status}")

            def unfused():
                b = torch.sigmoid(beta)
                a = (b * torch.sigmoid(fg) + (1 - b) * (1 - torch.sigmoid(bg))).clamp_(0, 1)
                return (a * 255).round_().to(torch.uint8) if out_d == "uint8" else a.to(tdt[out_d])

            fused()
            torch.cuda.synchronize()
            diff = (out.float() - unfused().float()).abs().max().item()
            row = {"size": f"{h}x{w}", "in": in_d, "out": out_d, "max_abs_vs_torch": diff}
            for name, fn in (("fused", fused), ("torch", unfused)):
                row[f"{name}_eager_us"] = round(1000 * time_ms(torch, fn, iters, reps), 2)
                try:
                    row[f"{name}_graph_us"] = round(1000 * time_graph_ms(torch, fn, iters, reps), 2)
                except Exception as exc:  # capture of a foreign-runtime launch may fail on some setups
                    row[f"{name}_graph_us"] = None
                    row[f"{name}_graph_error"] = f"{type(exc).__name__}: {exc}"[:200]
            best = min(v for v in (row["fused_eager_us"], row["fused_graph_us"]) if v)
            row["bytes"] = h * w * (3 * SIZE[in_d] + SIZE[out_d])
            row["fused_gbs"] = round(row["bytes"] / best / 1e3, 1)
            row["fused_pct_peak"] = round(100 * row["fused_gbs"] / peak_gbs, 1)
            torch_best = min(v for v in (row["torch_eager_us"], row["torch_graph_us"]) if v)
            row["speedup_vs_torch"] = round(torch_best / best, 2)
            rows.append(row)
            log(f"time {h}x{w} {in_d:>7}->{out_d:<7} fused {row['fused_eager_us']:8.1f} us eager "
                f"{row['fused_graph_us'] or float('nan'):8.1f} us graph = {row['fused_gbs']:7.1f} GB/s "
                f"({row['fused_pct_peak']:.0f}% of {peak_gbs:.0f}) | torch {row['torch_eager_us']:8.1f} eager "
                f"{row['torch_graph_us'] or float('nan'):8.1f} graph | x{row['speedup_vs_torch']} | max|d| {diff:.1e}")
            del fg, bg, beta, out
    return rows


def run_pytest(build_env: dict, log: Log) -> dict:
    import importlib.util

    if importlib.util.find_spec("pytest") is None:
        log("pytest: not installed, skipped")
        return {"skipped": "pytest not installed"}
    tests = next((p for p in (REPO / "tests" / "fused_blend" / "test_kernel.py",)
                  if p.is_file()), None)
    if tests is None:
        log("pytest: no tests/*/test_kernel.py, skipped")
        return {"skipped": "test_kernel.py not found"}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
                       capture_output=True, text=True, timeout=240, cwd=REPO, env=build_env)
    tail = r.stdout.strip().splitlines()[-12:]
    log(f"pytest {tests.relative_to(REPO)}: rc", r.returncode, "|", tail[-1] if tail else r.stderr[-300:])
    return {"rc": r.returncode, "tail": tail}


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    if args.dry_run:
        print(json.dumps({"out": str(out), "arch": args.arch, "sizes": args.sizes, "check_size": args.check_size,
                          "build": build_commands(out / "build", args.arch)}, indent=1))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "plugin_kernel.log")
    started = time.monotonic()
    import torch

    results: dict = {"python": platform.python_version(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
                     "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                     "peak_gbs": args.peak_gbs, "args": {k: v for k, v in vars(args).items()}}
    log(f"device {results['device']}, torch {torch.__version__} (CUDA {torch.version.cuda}), python {results['python']}")

    def save():
        results["elapsed_s"] = round(time.monotonic() - started, 1)
        (out / "plugin_kernel.json").write_text(json.dumps(results, indent=1, default=str))

    status = 0
    build = out / "build"
    stages = [("build", lambda: run_build(build, args.arch, log))]
    if not args.skip_sanitizer:
        stages.append(("sanitizer", lambda: run_sanitizer(build, log)))
    stages.append(("correctness", lambda: correctness(torch, str(build / "libtrtmatte_blend_kernel.so"),
                                                      str(build / "libtrtmatte_blend_cpu.so"), args.check_size, log)))
    if not args.skip_pytest:
        stages.append(("pytest", lambda: run_pytest({**os.environ, "PYTHONPATH": str(REPO)}, log)))
    stages.append(("timing", lambda: timing(torch, str(build / "libtrtmatte_blend_kernel.so"), args.sizes, args.iters,
                                            args.reps, args.peak_gbs, log)))
    for name, stage in stages:
        try:
            results[name] = stage()
        except Exception as exc:  # record and go on: later stages may still work
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"{name} FAILED: {type(exc).__name__}: {exc}")
            status = 1
            if name == "build":
                break
        save()
    bad = [c for c in results.get("correctness", []) if isinstance(c, dict) and not c.get("ok", True)]
    sanitizer_bad = [k for k, v in results.get("sanitizer", {}).items() if isinstance(v, dict) and v.get("rc")]
    if bad or sanitizer_bad or results.get("pytest", {}).get("rc"):
        status = 1
    save()
    log(f"done in {results['elapsed_s']} s: {'OK' if status == 0 else 'PROBLEMS (see above)'}; wrote {out}/plugin_kernel.json")
    return status


if __name__ == "__main__":
    sys.exit(main())
