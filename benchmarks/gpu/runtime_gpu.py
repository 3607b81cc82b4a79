"""The pinned-memory runtime on a real GPU, with the PyTorch-CUDA backend (no TensorRT needed).

Usage (repo root, on the GPU machine; the repo is copied, not installed):
    OUT=${OUT:-/tmp/out} PYTHONPATH=. python3 benchmarks/gpu/runtime_gpu.py

Runs, each step in a subprocess with its own time limit (the whole script stays under 5 minutes):
1. the GPU tests of the runtime (python3 -m pytest -q tests/runtime), which skip on CPU
   machines: the cuda-python layer, the PyTorch-CUDA session, pipelining, CUDA graphs;
2. `trtmatte bench --backend torch --variant late_fusion --device cuda` at 800x800, batch 1, FP32 and
   FP16 (autocast), eager and with CUDA graphs: latency split H2D / compute / D2H from CUDA events,
   pipelined throughput (two slots) against 1/compute, pinned vs pageable H2D/D2H bandwidth of an
   800x800x3 uint8 frame and of 64 MiB (cuda-python). The weights are randomly initialised: the
   timing is real, the mattes mean nothing; every figure is labelled torch / PyTorch-CUDA.
Writes under $OUT: runtime_gpu.log, results.json (every bench result + the pytest summary), and
bench_fp32.png / bench_fp16.png if matplotlib is installed (else plot later from results.json
with `python -m trtmatte.bench.plot`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(os.environ.get("OUT", "/tmp/trtmatte-gpu-out"))
BUDGET_S = 285  # the whole script, under 5 minutes
START = time.monotonic()
VERSIONS = """import importlib.metadata as m
for d in ("cuda-bindings", "cuda-python", "cupy-cuda12x", "cupy-cuda13x", "onnxruntime", "onnx", "matplotlib", "numpy"):
    try:
        print(d, m.version(d))
    except m.PackageNotFoundError:
        print(d, None)
"""


def log(msg: str) -> None:
    line = f"[{time.monotonic() - START:6.1f}s] {msg}"
    print(line, flush=True)
    with open(OUT / "runtime_gpu.log", "a") as f:
        f.write(line + "\n")


def step(name: str, cmd: list[str], limit: float) -> tuple[int, str]:
    left = BUDGET_S - (time.monotonic() - START)
    limit = min(limit, left)
    if limit < 10:
        log(f"SKIPPED {name}: out of time budget")
        return -1, ""
    log(f"$ {' '.join(cmd)}   (limit {limit:.0f} s)")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    try:
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=limit)
        out, code = r.stdout + r.stderr, r.returncode
    except subprocess.TimeoutExpired as exc:
        out, code = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or ""), 124
    with open(OUT / "runtime_gpu.log", "a") as f:
        f.write(out if out.endswith("\n") else out + "\n")
    log(f"{name}: exit {code}")
    return code, out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "runtime_gpu.log").write_text("")
    results: dict = {"bench": {}, "pytest": None, "environment": {}}
    for name, cmd in (("nvidia-smi", ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"]),
                      ("torch", [sys.executable, "-c", "import torch, sys; print(sys.version.split()[0], torch.__version__, "
                                                       "torch.version.cuda, torch.cuda.get_device_name(0))"]),
                      ("packages", [sys.executable, "-c", VERSIONS])):
        try:
            code, out = step(name, cmd, 30)
        except FileNotFoundError as exc:
            out = str(exc)
        results["environment"][name] = out.strip()

    code, out = step("pytest", [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                "tests/runtime"], 120)
    results["pytest"] = {"exit": code, "tail": out.strip().splitlines()[-15:]}

    have_mpl = subprocess.run([sys.executable, "-c", "import matplotlib"], capture_output=True).returncode == 0
    runs = [("fp32", False), ("fp16", False), ("fp32", True), ("fp16", True)]
    with tempfile.TemporaryDirectory() as tmp:
        for precision, graphs in runs:
            name = f"{precision}{'_graphs' if graphs else ''}"
            js = Path(tmp) / f"{name}.json"
            cmd = [sys.executable, "-m", "trtmatte", "bench", "--backend", "torch", "--variant", "late_fusion",
                   "--device", "cuda", "--size", "800x800", "--batch", "1", "--precision", precision,
                   "--warmup", "10", "--runs", "100", "--pipeline", "64", "--json", str(js)]
            if graphs:
                cmd += ["--graphs"]
            else:
                cmd += ["--transfers"]
                if have_mpl:
                    cmd += ["--plot", str(OUT / f"bench_{precision}.png")]
            code, out = step(f"bench {name}", cmd, 75)
            results["bench"][name] = json.loads(js.read_text()) if js.is_file() else {"error": out.strip()[-2000:]}
    if not have_mpl:
        log("matplotlib is not installed here: plot later with `python -m trtmatte.bench.plot results.json bench_fp32.png fp32`")

    summary = []
    for name, r in results["bench"].items():
        if "error" in r:
            summary.append(f"{name}: FAILED (see runtime_gpu.log)")
            continue
        sp, pl = r["split_s"], r["pipelined"] or {}
        line = (f"{name}: {r['label']}: mean {r['latency_s']['mean'] * 1e3:.2f} ms "
                f"(p50 {r['latency_s']['p50'] * 1e3:.2f}, p99 {r['latency_s']['p99'] * 1e3:.2f}), "
                f"{r['paper']['speedup']:.1f}x faster than 0.39 s")
        if sp:
            line += (f"; H2D {sp['h2d']['mean'] * 1e3:.3f} / compute {sp['compute']['mean'] * 1e3:.3f} / "
                     f"D2H {sp['d2h']['mean'] * 1e3:.3f} ms")
        if pl:
            line += f"; pipelined {pl['images_per_s']:.1f} img/s"
            if pl.get("ratio_to_compute_bound"):
                line += (f" = {pl['ratio_to_compute_bound']:.2f} x 1/compute, transfer hidden "
                         f"{pl['transfer_hidden_fraction']:.0%}")
        if r["graphs"]["errors"]:
            line += f"; graph capture failed: {r['graphs']['errors'][0]}"
        summary.append(line)
        for row in r["transfers"].get("sizes", []):
            summary.append(f"  {row['what']}: H2D pinned {row['h2d_pinned_GBps']:.1f} / pageable "
                           f"{row['h2d_pageable_GBps']:.1f} GB/s; D2H pinned {row['d2h_pinned_GBps']:.1f} / "
                           f"pageable {row['d2h_pageable_GBps']:.1f} GB/s")
    results["summary"] = summary
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    log("SUMMARY\n" + "\n".join(summary))
    log(f"pytest: {results['pytest']['tail'][-1] if results['pytest']['tail'] else 'no output'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
