"""`trtmatte serve` against in-process `Matter`, like with like, in one run.

Both sides get the same images, the same concurrency (N closed-loop clients: each sends its next
request when the last is answered) and the same thread budget: one model run at a time on
onnxruntime's default pool (one thread per core), as the server's one instance runs, in its stub
process and in this process. The server is driven through trtmatte.serve.loadgen over tritonclient
HTTP; in-process `Matter` is called from N threads that take turns (without the turns, N
concurrent runs would each add their calling thread to the pool: on a shared machine more runnable
threads take a larger share of the CPU, which measures the machine's scheduler, not the server). Two
loads: one size (256x256) and mixed sizes (256x256, 256x171, 256x170: the mix that stalled
Triton's batcher before the inputs were made ragged). The setups run in interleaved rounds so the
machine's drift is shared; each ratio is served / in-process of the same load, summed over rounds.
It also records CPU time (/proc): tritonserver's own against the model stub's, and images per
CPU-second on each side (served: tritonserver + stub; in-process: this process), a ratio that
the load of other processes on the machine does not move.

This is a benchmark, not a test. Usage:
    python benchmarks/bench_serve.py                          # bundled model, concurrency 16
    python benchmarks/bench_serve.py --rounds 3 --requests 64
    python benchmarks/bench_serve.py --padding    # mixed sizes padded into one batch vs one batch per size
Writes benchmarks/results/cpu2core_serve_vs_in_process.json (--json to change).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
DEFAULT_JSON = REPO / "benchmarks" / "results" / "cpu2core_serve_vs_in_process.json"
LOADS = {"one size": [(256, 256)], "mixed sizes": [(256, 256), (256, 171), (256, 170)]}


def in_process(matter, images: list[np.ndarray], concurrency: int, requests: int) -> dict:
    """Closed loop as loadgen's, calling the Matter from ``concurrency`` threads."""
    lock, turn, counter = threading.Lock(), threading.Lock(), iter(range(requests))

    def worker():
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            with turn:  # one run at a time, as the server's one instance
                matter(images[i % len(images)][None])

    cpu = time.process_time()
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - start
    return {"images": requests, "wall_s": wall, "images_per_s": requests / wall, "cpu_s": time.process_time() - cpu}


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


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--requests", type=int, default=32, help="requests per setup and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--padding", action="store_true",
                        help="only measure padding mixed sizes into one batch against one batch per size, in-process")
    parser.add_argument("--json", default=str(DEFAULT_JSON))
    args = parser.parse_args()
    if args.padding:  # the choice serve/service.py makes; figures in docs/serving.md
        print(json.dumps(padding_vs_grouping(), indent=2))
        return 0

    from helpers.triton import ServeProcess
    from trtmatte import Matter
    from trtmatte.bench.runner import machine
    from trtmatte.data.photos import sample_photos
    from trtmatte.serve.loadgen import run_load
    from trtmatte.serve.tritonserver import descendants, process_name

    photos = sample_photos()
    loads = {name: [np.ascontiguousarray(photos[i % len(photos)][:h, :w]) for i, (h, w) in enumerate(sizes)]
             for name, sizes in LOADS.items()}
    rows = []
    with ServeProcess() as server, Matter(backend="onnxruntime") as matter:
        tritonserver = next(p for p in descendants(server.process.pid) if process_name(p) == "tritonserver")
        stub = next(p for p in descendants(tritonserver) if process_name(p).startswith("triton_python_b"))
        for images in loads.values():  # warm-up, both sides, every size
            run_load(server.url, images, concurrency=2, requests=len(images))
            in_process(matter, images, 2, len(images))
        for round_ in range(args.rounds):
            for name, images in loads.items():
                local = in_process(matter, images, args.concurrency, args.requests)
                rows.append({"round": round_, "load": name, "side": "in-process", **local})
                cpu = cpu_seconds(tritonserver), cpu_seconds(stub)
                served = run_load(server.url, images, concurrency=args.concurrency, requests=args.requests)
                server_cpu, model_cpu = (cpu_seconds(p) - c for p, c in zip((tritonserver, stub), cpu))
                rows.append({"round": round_, "load": name, "side": "served", "images": served.images,
                             "errors": len(served.errors), "wall_s": served.wall_s,
                             "images_per_s": served.throughput, "p50_ms": served.percentile_ms(50),
                             "p99_ms": served.percentile_ms(99), "tritonserver_cpu_s": server_cpu,
                             "stub_cpu_s": model_cpu})
                print(f"round {round_} {name:<12} in-process {local['images_per_s']:.2f} images/s "
                      f"({local['cpu_s']:.1f} CPU-s), served "
                      f"{served.throughput:.2f} images/s ({len(served.errors)} errors); CPU tritonserver "
                      f"{server_cpu:.2f} s, stub {model_cpu:.2f} s", flush=True)
        label = matter.info.label
    summary = {}
    for name in loads:
        side = {s: [r for r in rows if r["load"] == name and r["side"] == s] for s in ("in-process", "served")}
        rate = {s: sum(r["images"] for r in rs) / sum(r["wall_s"] for r in rs) for s, rs in side.items()}
        server_cpu = sum(r["tritonserver_cpu_s"] for r in side["served"])
        model_cpu = sum(r["stub_cpu_s"] for r in side["served"])
        per_cpu = {"served": sum(r["images"] for r in side["served"]) / (server_cpu + model_cpu),
                   "in-process": sum(r["images"] for r in side["in-process"]) / sum(r["cpu_s"] for r in side["in-process"])}
        summary[name] = {"in_process_images_per_s": rate["in-process"], "served_images_per_s": rate["served"],
                         "served_over_in_process": rate["served"] / rate["in-process"],
                         "images_per_cpu_s": per_cpu,
                         "served_over_in_process_per_cpu_s": per_cpu["served"] / per_cpu["in-process"],
                         "tritonserver_cpu_over_stub": server_cpu / model_cpu if model_cpu else None}
        print(f"{name}: served {summary[name]['served_over_in_process']:.2f}x in-process "
              f"({summary[name]['served_over_in_process_per_cpu_s']:.2f}x per CPU-second); tritonserver CPU "
              f"{100 * summary[name]['tritonserver_cpu_over_stub']:.1f}% of the stub's")
    report = {"what": "trtmatte serve (Triton 2.51, Python backend, defaults) vs in-process Matter, same images, "
                      "same concurrency, same onnxruntime threads; interleaved rounds",
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
              "backend": label, "precision": "fp32", "concurrency": args.concurrency,
              "requests_per_setup_and_round": args.requests, "rounds": args.rounds,
              "load_average_at_end": os.getloadavg(), "summary": summary, "runs": rows}
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
