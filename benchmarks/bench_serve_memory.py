"""Peak memory of `trtmatte serve`'s model process (the Python-backend stub) under large requests.

16 clients each send a 1024x1024 photo at once (closed loop, trtmatte.serve.loadgen), then mixed
256-pixel photos; a sampler reads the stub's resident memory (/proc) every 20 ms and records the
peak, and the resident memory once each load is over (memory given back). The run is aborted,
the server killed, if the stub passes --abort-mib (a shared machine).

It also measures onnxruntime's CPU memory arena in-process on the same model and shapes, each
mode in its own process: the arena on (onnxruntime's default), off (what the server uses), and on
with shrinkage after each run (a run option): peak and after-run resident memory and run time.

This is a benchmark, not a test. Usage:
    python benchmarks/bench_serve_memory.py                 # bundled model, default --max-batch-pixels
    python benchmarks/bench_serve_memory.py --serve-args --max-batch-pixels 262144
Writes benchmarks/results/cpu2core_serve_memory.json (--json to change).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
BUNDLED = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "cpu2core_serve_memory.json"

ARENA_PROBE = r'''
import json, resource, sys, time
import numpy as np, onnxruntime as ort
mode, path, shapes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
options = ort.SessionOptions(); options.log_severity_level = 3
options.enable_cpu_mem_arena = mode != "off"
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
run_options = ort.RunOptions()
if mode == "shrink":
    run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
rows = []
for n, h, w in shapes:
    x = np.random.default_rng(0).integers(0, 256, (n, h, w, 3), dtype=np.uint8)
    start = time.perf_counter(); session.run(None, {"image": x}, run_options)
    rows.append({"shape": [n, h, w], "s": time.perf_counter() - start, "rss_after_mib": rss(),
                 "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
print(json.dumps(rows))
'''


def arena_modes(shapes) -> dict:
    out = {}
    for mode in ("on", "off", "shrink"):
        done = subprocess.run([sys.executable, "-c", ARENA_PROBE, mode, str(BUNDLED), json.dumps(shapes)],
                              capture_output=True, text=True, check=True)
        out[mode] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"arena {mode:<6} " + "  ".join(f"{r['shape']}: {r['s']:.2f} s, after {r['rss_after_mib']:.0f} MiB, "
                                               f"peak {r['peak_mib']:.0f}" for r in out[mode]), flush=True)
    return out


class PeakSampler:
    def __init__(self, pid: int, abort_mib: float, on_abort):
        self.pid, self.abort_mib, self.on_abort = pid, abort_mib, on_abort
        self.peak = 0.0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def rss(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024

    def loop(self) -> None:
        while not self.stopped.is_set():
            try:
                now = self.rss()
            except (OSError, StopIteration):
                return
            self.peak = max(self.peak, now)
            if now > self.abort_mib:
                print(f"stub at {now:.0f} MiB > {self.abort_mib:.0f}: aborting", flush=True)
                self.on_abort()
                return
            time.sleep(0.02)

    def reset(self) -> None:
        self.peak = 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--abort-mib", type=float, default=5000)
    parser.add_argument("--no-arena", action="store_true", help="skip the in-process arena comparison")
    parser.add_argument("--serve-args", nargs=argparse.REMAINDER, default=[])
    parser.add_argument("--json", default=str(DEFAULT_JSON))
    args = parser.parse_args()

    from PIL import Image

    from helpers.triton import ServeProcess
    from trtmatte.bench.runner import machine
    from trtmatte.data.photos import sample_photos
    from trtmatte.serve.loadgen import run_load
    from trtmatte.serve.tritonserver import descendants, process_name

    photos = sample_photos()
    large = [np.asarray(Image.fromarray(p).resize((1024, 1024), Image.BILINEAR)) for p in photos]
    mixed = [np.ascontiguousarray(photos[i % len(photos)][:h, :w]) for i, (h, w) in
             enumerate([(256, 256), (256, 171), (256, 170)])]
    report = {"what": "peak resident memory of trtmatte serve's model process (Python-backend stub)",
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "backend": "onnxruntime CPU, fp32, bundled late_fusion_lite_demo.onnx", "serve_args": args.serve_args,
              "clients": args.clients, "abort_mib": args.abort_mib, "loads": []}
    with ServeProcess(*args.serve_args) as server:
        tritonserver = next(p for p in descendants(server.process.pid) if process_name(p) == "tritonserver")
        stub = next(p for p in descendants(tritonserver) if process_name(p).startswith("triton_python_b"))
        sampler = PeakSampler(stub, args.abort_mib, lambda: os.killpg(server.process.pid, signal.SIGKILL))
        idle = sampler.rss()
        for name, images, requests in (("1024x1024 photos", large, args.clients),
                                       ("mixed 256x256, 256x171, 256x170", mixed, args.clients * 4)):
            sampler.reset()
            result = run_load(server.url, images, concurrency=args.clients, requests=requests)
            time.sleep(1.0)  # memory handed back after the last run
            row = {"load": name, "requests": requests, "errors": len(result.errors), "peak_mib": sampler.peak,
                   "after_mib": sampler.rss(), "idle_before_mib": idle, "images_per_s": result.throughput}
            report["loads"].append(row)
            print(json.dumps(row), flush=True)
            if result.errors:
                print("errors:", list(result.errors.values())[:2], flush=True)
        sampler.stopped.set()
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")  # the server's figures, whatever follows
    if not args.no_arena:
        report["arena_in_process"] = arena_modes([[8, 256, 256], [1, 1024, 1024], [1, 256, 256]])
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
