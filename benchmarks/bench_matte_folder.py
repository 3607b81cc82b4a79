"""Images/s of `trtmatte matte FOLDER -o OUT` on 800x800 photos, per backend, as a user sees it.

For each backend this machine has -- PyTorch on the bundled checkpoint, onnxruntime on the bundled
ONNX graph (trtmatte/weights/late_fusion_lite_demo.*; exported once into --work if the graph is
absent) -- the script times, in a subprocess, wall clock, nothing excluded:

* folder: ``trtmatte matte FOLDER -o OUT --backend B ...`` over N photos (Python start-up, imports,
  model load, decode, inference, PNG writes); images/s = N / wall time. If this trtmatte has no
  folder mode yet, the files are passed explicitly (``matte a.jpg b.jpg ... -o OUT``); the JSON
  says which form ran;
* start-up: the same command on a single photo (what one `trtmatte matte photo.jpg` costs);

and in this process, with ``trtmatte.Matter``, the single-image latency on one 800x800 photo
(after a warm-up run), the figure `trtmatte bench` reports. Backends alternate within each round
(the order flips every round) so a machine's drift is shared. The photos are scikit-image's
bundled ones (astronaut, chelsea, coffee, rocket, hubble_deep_field, immunohistochemistry,
retina), square-cropped at varying offsets, resized to 800x800 and saved as JPEG (quality 92).

This is a benchmark, not a test: pyproject's testpaths is tests/, and it defines no test functions.
Usage:
    python benchmarks/bench_matte_folder.py                       # N=16, 2 rounds, both backends
    python benchmarks/bench_matte_folder.py --n 8 --rounds 1 --backends onnxruntime
Writes benchmarks/results/cpu2core_matte_folder.json (--json to change).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "trtmatte" / "weights"
CHECKPOINT = WEIGHTS / "late_fusion_lite_demo.safetensors"
GRAPH = WEIGHTS / "late_fusion_lite_demo.onnx"
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")
DEFAULT_JSON = REPO / "benchmarks" / "results" / "cpu2core_matte_folder.json"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def make_photos(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` distinct size x size JPEG photos: square crops of scikit-image's photos at varying
    offsets (and mirrored on the second pass), resized with Lanczos."""
    import numpy as np
    from PIL import Image
    from skimage import data

    sources = []
    for name in PHOTOS:
        try:
            sources.append((name, np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB"))))
        except Exception:  # a photo missing from this scikit-image
            continue
    if not sources:
        raise SystemExit("scikit-image's bundled photos are missing (pip install 'trtmatte[data]')")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        name, photo = sources[i % len(sources)]
        rnd = i // len(sources)
        h, w = photo.shape[:2]
        side = min(h, w)
        frac = (0.5, 0.0, 1.0, 0.25, 0.75)[rnd % 5]  # centre, then the ends, ...
        top, left = int((h - side) * frac), int((w - side) * frac)
        crop = photo[top:top + side, left:left + side]
        if rnd % 2:
            crop = crop[:, ::-1]
        path = folder / f"{i:03d}_{name}.jpg"
        Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.LANCZOS).save(path, quality=92)
        paths.append(path)
    return paths


def ensure_graph(work: Path) -> Path:
    """The bundled ONNX graph, or one exported from the bundled checkpoint into ``work`` (once)."""
    if GRAPH.is_file():
        return GRAPH
    cached = work / GRAPH.name
    if not cached.is_file():
        print(f"{GRAPH} is absent: exporting the bundled checkpoint once into {cached} ...", flush=True)
        subprocess.run([sys.executable, "-m", "trtmatte", "export", "--weights", str(CHECKPOINT), "-o", str(cached)],
                       check=True, cwd=REPO)
    return cached


def backend_flags(backend: str, graph: Path | None) -> list[str]:
    if backend == "torch":
        return ["--backend", "torch", "--weights", str(CHECKPOINT), "--device", "cpu"]
    return ["--backend", "onnxruntime", "--onnx", str(graph), "--device", "cpu"]


def timed_cli(args: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trtmatte", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=3600)
    return time.perf_counter() - start, proc


def backend_line(stdout: str) -> str | None:
    return next((line[len("backend: "):] for line in stdout.splitlines() if line.startswith("backend: ")), None)


def in_process_latency(backend: str, graph: Path | None, image, runs: int) -> dict:
    """Single-image latency with trtmatte.Matter in this process: one warm-up, then ``runs`` calls."""
    from trtmatte.runtime.matter import Matter

    opened = time.perf_counter()
    kwargs = {"weights": str(CHECKPOINT)} if backend == "torch" else {"onnx": str(graph)}
    with Matter(backend, device="cpu", **kwargs) as matter:
        load_s = time.perf_counter() - opened
        start = time.perf_counter()
        matter(image)
        warmup_s = time.perf_counter() - start
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            alpha = matter(image)
            times.append(time.perf_counter() - start)
        assert alpha.shape == (1,) + image.shape[:2]
        info = matter.info
    return {"label": info.label, "precision": info.precision, "device": info.device, "variant": info.variant,
            "load_s": round(load_s, 3), "warmup_s": round(warmup_s, 3), "runs_s": [round(t, 4) for t in times],
            "median_s": statistics.median(times), "mean_s": statistics.fmean(times), "min_s": min(times)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=16, help="photos in the folder (default 16)")
    parser.add_argument("--size", type=int, default=800, help="photo side in pixels (default 800)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of every backend (default 2)")
    parser.add_argument("--runs", type=int, default=5, help="in-process latency runs after a warm-up (default 5)")
    parser.add_argument("--backends", default="torch,onnxruntime", help="comma-separated (default torch,onnxruntime)")
    parser.add_argument("--work", help="folder for the photos and outputs (default: a temporary one)")
    parser.add_argument("--json", default=str(DEFAULT_JSON), help=f"result file (default {DEFAULT_JSON.relative_to(REPO)})")
    args = parser.parse_args(argv)
    if args.n < 1 or args.rounds < 1 or args.runs < 1:
        parser.error("--n, --rounds and --runs must be at least 1")

    from trtmatte._lazy import is_installed
    from trtmatte.bench.environment import versions

    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    available, skipped = [], {}
    for backend in wanted:
        if backend == "torch" and not (is_installed("torch") and CHECKPOINT.is_file()):
            skipped[backend] = "PyTorch or the bundled checkpoint is missing"
        elif backend == "onnxruntime" and not is_installed("onnxruntime"):
            skipped[backend] = "onnxruntime is not installed"
        elif backend not in ("torch", "onnxruntime"):
            skipped[backend] = "not a CPU backend this benchmark runs"
        else:
            available.append(backend)
    if not available:
        raise SystemExit(f"no backend to time: {skipped}")

    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="trtmatte-bench-folder-"))
    work.mkdir(parents=True, exist_ok=True)
    photos = make_photos(work / "photos", args.n, args.size)
    graph = ensure_graph(work) if "onnxruntime" in available else None
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    print(f"{args.n} photos {args.size}x{args.size} in {work / 'photos'}; backends {', '.join(available)}; "
          f"{cpu_model()}, {usable_cores()} cores", flush=True)

    # Folder form if this trtmatte has it, else explicit files; decided once, recorded.
    form = "folder"
    probe_in, probe_out = work / "probe_in", work / "probe_out"
    probe_in.mkdir(exist_ok=True)
    probe_out.mkdir(exist_ok=True)
    (probe_in / photos[0].name).write_bytes(photos[0].read_bytes())
    _, proc = timed_cli(["matte", str(probe_in), "-o", str(probe_out), *backend_flags(available[0], graph),
                         "--no-progress"], env)
    if proc.returncode != 0:
        form = "files"
        print(f"folder form unavailable ({(proc.stderr.strip().splitlines() or ['?'])[-1]}); passing the files",
              flush=True)

    results: dict[str, dict] = {b: {"folder_wall_s": [], "startup_single_image_wall_s": [], "cli_backend": None}
                                for b in available}
    for rnd in range(args.rounds):
        order = available if rnd % 2 == 0 else available[::-1]
        for backend in order:
            flags = backend_flags(backend, graph)
            out = work / f"out_{backend}_{rnd}"
            out.mkdir(exist_ok=True)
            inputs = [str(work / "photos")] if form == "folder" else [str(p) for p in photos]
            wall, proc = timed_cli(["matte", *inputs, "-o", str(out), *flags, "--no-progress"], env)
            if proc.returncode != 0:
                raise SystemExit(f"trtmatte matte failed ({backend}):\n{proc.stdout}\n{proc.stderr}")
            written = len(list(out.glob("*.png")))
            if written != args.n:
                raise SystemExit(f"{backend}: {written} mattes written for {args.n} photos")
            results[backend]["folder_wall_s"].append(round(wall, 3))
            results[backend]["cli_backend"] = backend_line(proc.stdout)
            single, proc = timed_cli(["matte", str(photos[0]), "-o", str(work / f"single_{backend}.png"), *flags,
                                      "--no-progress"], env)
            if proc.returncode != 0:
                raise SystemExit(f"trtmatte matte (one photo) failed ({backend}):\n{proc.stderr}")
            results[backend]["startup_single_image_wall_s"].append(round(single, 3))
            print(f"round {rnd + 1} {backend}: folder {wall:.1f} s ({args.n / wall:.2f} images/s), "
                  f"one photo {single:.1f} s", flush=True)

    from PIL import Image
    import numpy as np

    image = np.asarray(Image.open(photos[0]).convert("RGB"))
    for backend in available:
        results[backend]["latency_in_process"] = in_process_latency(backend, graph, image, args.runs)

    figures = {}
    for backend, r in results.items():
        lat = r.pop("latency_in_process")
        wall = statistics.median(r["folder_wall_s"])
        startup = statistics.median(r["startup_single_image_wall_s"])
        figures[backend] = {
            "label": lat["label"], "precision": lat["precision"], "device": lat["device"], "variant": lat["variant"],
            "model": str(CHECKPOINT if backend == "torch" else graph),
            "cli_backend_line": r["cli_backend"],
            "folder_wall_s": r["folder_wall_s"], "folder_wall_median_s": wall,
            "images_per_s": args.n / wall,
            "startup_single_image_wall_s": r["startup_single_image_wall_s"],
            "startup_single_image_median_s": startup,
            # derived, not measured: the folder's time after a one-photo run's worth of start-up
            "images_per_s_after_startup": (args.n - 1) / (wall - startup) if wall > startup else None,
            "latency_in_process": lat,
            "latency_median_s": lat["median_s"],
        }
    result = {
        "schema": "trtmatte.bench.matte_folder/1",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "what": "wall time of `trtmatte matte` over a folder of photos in a subprocess (nothing excluded), "
                "start-up = the same on one photo, latency = Matter in-process on one photo after a warm-up",
        "device": {"cpu": cpu_model(), "cores": usable_cores(), "cpu_count": os.cpu_count(),
                   "platform": platform.platform(), "python": platform.python_version()},
        # other work on the machine slows every figure: the 1/5/15-minute load averages around the run
        "load_average": {"start": load_start, "end": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "versions": versions(),
        "n_images": args.n, "image_size": f"{args.size}x{args.size}", "image_format": "JPEG quality 92",
        "photos": "scikit-image: " + ", ".join(PHOTOS),
        "command_form": form, "rounds": args.rounds, "latency_runs": args.runs,
        "command": ["trtmatte", "matte", "PHOTOS/" if form == "folder" else "PHOTOS/*.jpg", "-o", "OUT/",
                    "--backend", "B", "--no-progress", "(model flags)"],
        "skipped": skipped,
        "backends": figures,
    }
    json_path = Path(args.json)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n{'backend':<12} {'label':<44} {'images/s':>9} {'folder s':>9} {'1 photo s':>10} {'latency s':>10}")
    for backend, f in figures.items():
        print(f"{backend:<12} {f['label'][:44]:<44} {f['images_per_s']:>9.2f} {f['folder_wall_median_s']:>9.1f} "
              f"{f['startup_single_image_median_s']:>10.1f} {f['latency_median_s']:>10.3f}")
    print(f"({form} form, {args.n} photos {args.size}x{args.size}, median of {args.rounds} round(s); load average "
          f"{result['load_average']['start']} -> {result['load_average']['end']}; {json_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
