"""Images/s of `trtmatte matte FOLDER -o OUT` without and with `--ray local`, on the same folder,
in interleaved rounds of one run (the machine is shared and noisy: only ratios within a run mean
anything).

Modes, each a fresh subprocess writing a fresh output folder:

* plain: ``trtmatte matte FOLDER -o OUT`` (one process, onnxruntime's threads on all cores);
* ray1: ``--ray local --ray-actors 1`` (one actor, all cores' threads);
* ray2: ``--ray local --ray-actors 2`` (two actors of one core and one thread each).

images/s is the command's own summary line (``done N ... (R images/s)``): the job, from the first
input to the last output, without Python start-up, model load or Ray's start-up, which are
reported separately as the wall time of the whole command. The folder is 48 of scikit-image's
photos (nested, PNG, longer side ``--side``), the bundled demo model on onnxruntime fp32.

Ray binds to the machine's interface address: run this inside a network namespace of its own,
where only loopback exists (the script refuses otherwise):

    unshare --net sh -c 'ip link set lo up; exec python benchmarks/bench_ray.py'
    ... bench_ray.py --n 48 --rounds 3 --side 128

Writes benchmarks/results/cpu2core_ray.json (--json to change). Not a test: it defines no tests.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_JSON = REPO / "benchmarks" / "results" / "cpu2core_ray.json"
MODES = {"plain": [], "ray1": ["--ray", "local", "--ray-actors", "1"], "ray2": ["--ray", "local", "--ray-actors", "2"]}
SUMMARY = re.compile(r"done (\d+), skipped (\d+), failed (\d+) in ([\d.]+) s \(([\d.]+) images/s\)")


def loopback_only() -> bool:
    import socket

    return [name for _, name in socket.if_nameindex()] == ["lo"]  # this namespace's (not /sys's) interfaces


def make_folder(root: Path, n: int, side: int) -> None:
    sys.path.insert(0, str(REPO))
    from trtmatte.data.photos import named_photos
    from trtmatte.media.image import write_image

    photos = named_photos(side)
    for i in range(n):
        name, image = photos[i % len(photos)]
        target = root / f"set{i % 4}" / f"{name}_{i:03d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_image(target, image)


def run_mode(mode: str, folder: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "trtmatte", "matte", str(folder), "-o", str(out), "--no-progress", *MODES[mode]]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    found = SUMMARY.search(proc.stdout)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"bench_ray: {mode} failed (exit {proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    done, _, failed, seconds, per_s = found.groups()
    return {"mode": mode, "done": int(done), "failed": int(failed), "job_s": float(seconds),
            "images_per_s": float(per_s), "wall_s": round(wall, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--side", type=int, default=128, help="longer side of the photos (default 128)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    if not loopback_only():
        print("bench_ray: error: run me in a loopback-only network namespace: "
              "unshare --net sh -c 'ip link set lo up; exec python benchmarks/bench_ray.py'", file=sys.stderr)
        return 1
    runs = []
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        folder = Path(tmp) / "photos"
        make_folder(folder, args.n, args.side)
        for r in range(args.rounds):
            order = list(MODES) if r % 2 == 0 else list(reversed(MODES))  # drift is shared
            for mode in order:
                result = {"round": r, **run_mode(mode, folder, Path(tmp) / f"out-{mode}-{r}")}
                print(json.dumps(result), flush=True)
                runs.append(result)
    medians = {m: statistics.median(x["images_per_s"] for x in runs if x["mode"] == m) for m in MODES}
    walls = {m: statistics.median(x["wall_s"] for x in runs if x["mode"] == m) for m in MODES}
    from trtmatte.bench.environment import machine, versions

    report = {
        "schema": "trtmatte.bench.ray/1",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "what": "images/s of `trtmatte matte FOLDER` (the job's summary line: first input to last output), plain vs "
                "--ray local with 1 and 2 actors splitting the cores; wall_s: the whole command incl. start-up",
        "device": f"{os.cpu_count()}-core x86-64 CPU",
        "machine": machine(),
        "backend": "onnxruntime (CPU)",
        "precision": "fp32",
        "model": "late_fusion_lite_demo.onnx (bundled)",
        "photos": {"n": args.n, "longer_side": args.side, "format": "png", "source": "scikit-image"},
        "rounds": args.rounds,
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "versions": {**versions(), "ray": metadata.version("ray")},
        "median_images_per_s": medians,
        "median_wall_s": walls,
        "ratio_to_plain": {m: round(medians[m] / medians["plain"], 3) for m in MODES},
        "runs": runs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"median_images_per_s": medians, "ratio_to_plain": report["ratio_to_plain"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
