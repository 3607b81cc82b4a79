"""`trtmatte serve --instances N` on a CPU: the cores shared out between instances, or not.

Triton runs each Python-backend instance as its own process. Each opens its own onnxruntime
session, whose intra-op pool has one thread per core by default, so two instances on a 2-core
machine run four busy threads on two cores. serve/python_backend.py gives each instance
cores // instances threads unless --threads says otherwise. This measures, in one run and in
interleaved rounds (so drift is shared): one instance; two instances with every core each
(--threads = cores, the behaviour before); two instances sharing the cores (the default).
Closed-loop load (trtmatte.serve.loadgen over tritonclient HTTP) at one concurrency.

This is a benchmark, not a test. Usage:
    python benchmarks/bench_serve_instances.py                  # bundled model, 256x256, concurrency 4
Writes benchmarks/results/cpu2core_serve_instances.json (--json to change).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
DEFAULT_JSON = REPO / "benchmarks" / "results" / "cpu2core_serve_instances.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256x256", help="WIDTHxHEIGHT of every request (default 256x256)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--requests-per-client", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the three setups")
    parser.add_argument("--json", default=str(DEFAULT_JSON))
    args = parser.parse_args()

    from helpers.triton import ServeProcess
    from trtmatte.bench.runner import machine
    from trtmatte.data.photos import sample_photos
    from trtmatte.serve.loadgen import run_load

    cores = os.cpu_count() or 1
    setups = {"1 instance": ["--instances", "1"],
              f"2 instances x {cores} threads (before)": ["--instances", "2", "--threads", str(cores)],
              f"2 instances x {max(1, cores // 2)} threads (default)": ["--instances", "2"]}
    w, h = (int(v) for v in args.size.lower().split("x"))
    photo = sample_photos(max_side=max(h, w) * 2)[0]
    image = np.ascontiguousarray(np.asarray(photo)[:h, :w])
    runs: dict[str, list[dict]] = {name: [] for name in setups}
    for round_ in range(args.rounds):
        for name, flags in setups.items():
            with ServeProcess("--backend", "onnxruntime", "--max-batch", "4", *flags) as server:
                run_load(server.url, [image], concurrency=2, requests=4)  # warm-up
                result = run_load(server.url, [image], concurrency=args.concurrency,
                                  requests=args.concurrency * args.requests_per_client)
            runs[name].append(result.summary())
            print(f"round {round_ + 1}  {name:<34} {result.throughput:6.2f} images/s  p50 "
                  f"{result.percentile_ms(50):7.1f} ms  p99 {result.percentile_ms(99):7.1f} ms", flush=True)
    mean = {name: float(np.mean([r["images_per_s"] for r in rs])) for name, rs in runs.items()}
    first = next(iter(mean.values()))
    report = {"what": "trtmatte serve (Triton 2.51, Python backend, onnxruntime CPU), instances and their threads",
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "size": args.size, "concurrency": args.concurrency, "server_max_batch": 4, "rounds": args.rounds,
              "images_per_s_mean": mean, "over_one_instance": {n: v / first for n, v in mean.items()}, "runs": runs}
    for name, value in mean.items():
        print(f"{name:<34} {value:6.2f} images/s  {value / first:.2f}x one instance")
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
