"""`trtmatte serve` under load against the same backend in-process (`trtmatte bench`), one run.

The server's overhead is the ratio of the two throughputs on the same machine in the same run:
in-process bench, then the server at concurrency 1, 4 and 16 (closed loop: each client sends its
next request when the last is answered; trtmatte.serve.loadgen over tritonclient HTTP), then the
in-process bench again; the in-process figure is the mean of the two runs, so drift is shared.

It also measures the batching choice of serve/service.py: four images of different sizes run as
one batch per size (what the server does) against one batch padded to the largest size and
cropped back, with the α difference padding causes.

This is a benchmark, not a test. Usage:
    python benchmarks/bench_serve.py                              # bundled model, 256x256, onnxruntime
    python benchmarks/bench_serve.py --size 512x512 --requests-per-client 4 --max-batch 1
Writes benchmarks/results/cpu2core_serve_load.json (--json to change).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
BUNDLED = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"  # what `trtmatte serve` runs by default
DEFAULT_JSON = REPO / "benchmarks" / "results" / "cpu2core_serve_load.json"


def in_process(size: str, duration: float) -> dict:
    """`trtmatte bench` on the bundled graph with onnxruntime, as a user would run it."""
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-serve-{os.getpid()}.json"
    subprocess.run([sys.executable, "-m", "trtmatte", "bench", "--backend", "onnxruntime", "--onnx", str(BUNDLED), "--size", size,
                    "--duration", str(duration), "--warmup", "2", "--json", str(out)], check=True,
                   cwd=REPO, stdout=subprocess.DEVNULL)
    result = json.loads(out.read_text())
    out.unlink()
    return result


def padding_vs_grouping(rounds: int = 3) -> dict:
    from trtmatte import Matter
    from trtmatte.data.photos import sample_photos

    photos = sample_photos()
    sizes = [(160, 160), (192, 224), (224, 192), (256, 256)]
    images = [np.ascontiguousarray(photos[i % len(photos)][:h, :w]) for i, (h, w) in enumerate(sizes)]
    H, W = max(h for h, _ in sizes), max(w for _, w in sizes)
    padded = np.zeros((len(images), H, W, 3), np.uint8)
    for i, image in enumerate(images):
        padded[i, :image.shape[0], :image.shape[1]] = image
    times = {"grouped": [], "padded": []}
    with Matter(backend="onnxruntime") as matter:
        for _ in range(rounds):
            start = time.perf_counter()
            grouped = [matter(image[None])[0] for image in images]
            times["grouped"].append(time.perf_counter() - start)
            start = time.perf_counter()
            batch = matter(padded)
            times["padded"].append(time.perf_counter() - start)
    diff = max(float(np.abs(batch[i, :a.shape[0], :a.shape[1]] - a).max()) for i, a in enumerate(grouped))
    g, p = np.median(times["grouped"]), np.median(times["padded"])
    return {"sizes": [f"{w}x{h}" for h, w in sizes], "grouped_s": float(g), "padded_s": float(p),
            "padded_over_grouped": float(p / g), "max_abs_dalpha_padded": diff}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256x256", help="WIDTHxHEIGHT of every request (default 256x256)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests-per-client", type=int, default=4, help="closed-loop requests per client")
    parser.add_argument("--bench-seconds", type=float, default=20.0, help="in-process bench duration, each time")
    parser.add_argument("--max-batch", type=int, default=8, help="the server's --max-batch")
    parser.add_argument("--json", default=str(DEFAULT_JSON))
    args = parser.parse_args()

    from helpers.triton import ServeProcess
    from trtmatte.bench.runner import machine
    from trtmatte.data.photos import sample_photos
    from trtmatte.serve.loadgen import run_load

    w, h = (int(v) for v in args.size.lower().split("x"))
    photo = sample_photos(max_side=max(h, w) * 2)[0]
    image = np.ascontiguousarray(np.asarray(photo)[:h, :w])
    before = in_process(f"{h}x{w}", args.bench_seconds)
    levels = []
    with ServeProcess("--max-batch", str(args.max_batch)) as server:
        run_load(server.url, [image], concurrency=2, requests=4)  # warm-up
        for c in args.concurrency:
            result = run_load(server.url, [image], concurrency=c, requests=c * args.requests_per_client)
            levels.append(result.summary())
            print(f"serve  c={c:<3} {result.throughput:6.2f} images/s  p50 {result.percentile_ms(50):7.1f} ms  "
                  f"p90 {result.percentile_ms(90):7.1f} ms  p99 {result.percentile_ms(99):7.1f} ms", flush=True)
    after = in_process(f"{h}x{w}", args.bench_seconds)
    in_proc = (before["images_per_s"] + after["images_per_s"]) / 2
    for level in levels:
        level["over_in_process"] = level["images_per_s"] / in_proc
    padding = padding_vs_grouping()
    report = {"what": "trtmatte serve (Triton 2.51, Python backend) vs trtmatte bench in-process, same backend",
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "backend": before["label"], "size": args.size, "server_max_batch": args.max_batch,
              "in_process_images_per_s": {"before": before["images_per_s"], "after": after["images_per_s"],
                                          "mean": in_proc},
              "in_process_latency_ms": {"p50": before["latency_s"]["p50"] * 1e3, "p99": before["latency_s"]["p99"] * 1e3},
              "served": levels, "batching": padding}
    print(f"in-process (trtmatte bench, {before['label']}): {in_proc:.2f} images/s "
          f"(before {before['images_per_s']:.2f}, after {after['images_per_s']:.2f})")
    for level in levels:
        print(f"  concurrency {level['concurrency']:>2}: {level['over_in_process']:.2f}x in-process")
    print(f"mixed sizes: padded to one batch {padding['padded_over_grouped']:.2f}x the time of one batch per size, "
          f"max |dalpha| {padding['max_abs_dalpha_padded']:.3f}")
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
