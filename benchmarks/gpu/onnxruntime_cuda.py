"""onnxruntime's CUDA execution provider: OrtSession(device="cuda") latency and α, or why not.

Usage (repo root, on the GPU machine; run_all.py runs it as one part):
    PYTHONPATH=. python3 benchmarks/gpu/onnxruntime_cuda.py --out DIR
    PYTHONPATH=. python3 benchmarks/gpu/onnxruntime_cuda.py --dry-run --out DIR   # CPU: CPU provider stands in

The GPU machine's onnxruntime is the CPU build, and the onnxruntime-gpu wheel cannot travel there:
1.31.1 for Python 3.12 is 255,569,273 bytes (243.7 MiB, `pip download --no-deps`, measured for
issue #31) against the 64 MiB that one transfer holds, tree included. So on that machine this part
writes a ``skipped`` line saying so. Where CUDAExecutionProvider is available, it times the bundled
graph at --size² (trtmatte.bench) and compares α on scikit-image photos with the CPU provider.
Writes gpu_onnxruntime_cuda.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
BUNDLED = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"
WHEEL = "onnxruntime-gpu 1.31.1 (cp312, manylinux_2_28_x86_64) is 255,569,273 bytes (243.7 MiB)"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("OUT", "/tmp/trtmatte-gpu-out"))
    p.add_argument("--work", help="scratch folder (unused)")
    p.add_argument("--graph", default=str(BUNDLED))
    p.add_argument("--size", type=int, default=800)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--photos", type=int, default=3)
    p.add_argument("--dry-run", action="store_true", help="CPU: the CPU provider in place of CUDA, 320x320, 1 run")
    args = p.parse_args(argv)
    if args.size < 32 or args.runs < 1 or args.photos < 1:
        p.error("--size >= 32, --runs and --photos >= 1")
    if args.dry_run:
        args.size, args.runs, args.photos = 320, 1, 1
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import onnxruntime as ort

    providers = ort.get_available_providers()
    report = {"part": "onnxruntime_cuda", "dry_run": args.dry_run, "device": None, "onnxruntime": ort.__version__,
              "providers": providers}
    path = out / "gpu_onnxruntime_cuda.json"
    if "CUDAExecutionProvider" not in providers and not args.dry_run:
        report["skipped"] = (f"onnxruntime {ort.__version__} here has no CUDAExecutionProvider (providers: "
                             f"{', '.join(providers)}), and {WHEEL}: over the 64 MiB one transfer holds, so not carried")
        path.write_text(json.dumps(report, indent=2) + "\n")
        print(report["skipped"])
        return 0
    from trtmatte.bench.runner import BenchConfig, run_bench
    from trtmatte.runtime.ort_session import OrtSession

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from rtx_hopper import photos

    device = "cpu" if args.dry_run else "cuda"
    session = OrtSession(args.graph, device=device)
    report["device"] = session.info.device if not args.dry_run else "cpu (dry run)"
    bench = run_bench(session, BenchConfig(args.size, args.size, 1, runs=args.runs, warmup=0 if args.dry_run else 5))
    cpu = OrtSession(args.graph) if not args.dry_run else session
    worst = 0.0
    for image in photos(args.size, args.photos):
        alpha = np.array(session.run(image[None]), dtype=np.float32)
        worst = max(worst, float(np.abs(alpha - cpu.run(image[None])).max()))
    report.update({"label": bench["label"], "latency_ms": bench["latency_s"]["mean"] * 1e3,
                   "p99_ms": bench["latency_s"]["p99"] * 1e3, "max_abs_dalpha_vs_cpu_provider": worst,
                   "stand_in": "CPU provider (dry run): not CUDA's figures" if args.dry_run else None})
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{report['label']}: {report['latency_ms']:.2f} ms, max |dalpha| vs CPU {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
