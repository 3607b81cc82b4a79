"""Latency of libtrtmatte (C++, through its C ABI) against Python on the same ONNX graph, ONNX
Runtime backend on the CPU, in one process, calls alternating (the order flips every round) so the
machine's drift is shared. Python is timed twice: onnxruntime's own InferenceSession.run (uint8
alpha, what the C++ side returns) and trtmatte.runtime.OrtSession.run (float alpha, what Matter
returns). The image is scikit-image's astronaut resized to each size. Also: images/s of one
libtrtmatte handle called from 1 and 2 threads (ONNX Runtime's Session::Run is thread-safe).

This is a benchmark, not a test. Usage:
    python benchmarks/cpp_vs_python_ort.py                      # 512x512 and 800x800, 5 rounds
    python benchmarks/cpp_vs_python_ort.py --sizes 512x512 --rounds 3 --graph my.onnx
It builds libtrtmatte (Release, ONNX Runtime backend only) into build/cpp-bench unless --library
names one, and writes benchmarks/results/cpu2core_cpp_vs_python_ort.json (--json to change).
"""
from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_GRAPH = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "cpu2core_cpp_vs_python_ort.json"
u8p = ctypes.POINTER(ctypes.c_uint8)


class Options(ctypes.Structure):  # trtmatte_options in trtmatte/trtmatte_c.h
    _fields_ = [("struct_size", ctypes.c_size_t), ("backend", ctypes.c_int), ("threads", ctypes.c_int),
                ("contexts", ctypes.c_int), ("cuda_graphs", ctypes.c_int), ("onnxruntime_library", ctypes.c_char_p),
                ("tensorrt_library", ctypes.c_char_p)]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graph", type=Path, default=DEFAULT_GRAPH)
    p.add_argument("--sizes", nargs="+", default=["512x512", "800x800"])
    p.add_argument("--rounds", type=int, default=5, help="timed calls per side and size (after 1 warm-up each)")
    p.add_argument("--thread-images", type=int, default=4, help="images per throughput measurement (at the first size)")
    p.add_argument("--thread-rounds", type=int, default=3, help="throughput measurements per configuration")
    p.add_argument("--library", type=Path, help="a built libtrtmatte.so (default: build one into build/cpp-bench)")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = p.parse_args(argv)
    args.sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes]
    return args


def build_library() -> Path:
    import onnxruntime

    wheel_lib = sorted((Path(onnxruntime.__file__).parent / "capi").glob("libonnxruntime.so.*"))[-1]
    build = REPO / "build" / "cpp-bench"
    for cmd in (["cmake", "-S", str(REPO), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DTRTMATTE_BUILD_PLUGINS=OFF",
                 "-DTRTMATTE_BUILD_CPP=ON", "-DTRTMATTE_BUILD_EXAMPLES=OFF", "-DTRTMATTE_WITH_TENSORRT=OFF",
                 f"-DTRTMATTE_ONNXRUNTIME_LIBRARY={wheel_lib}"],
                ["cmake", "--build", str(build), "--target", "trtmatte", "-j2"]):
        subprocess.run(cmd, check=True, capture_output=True)
    return build / "lib" / "libtrtmatte.so"


class Cpp:
    def __init__(self, library: Path, graph: Path, threads: int = 0):
        lib = self.lib = ctypes.CDLL(str(library))
        lib.trtmatte_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_void_p)]
        lib.trtmatte_matte.argtypes = [ctypes.c_void_p, u8p, ctypes.c_int, ctypes.c_int, ctypes.c_size_t, u8p]
        lib.trtmatte_last_error.restype = ctypes.c_char_p
        lib.trtmatte_describe.restype = ctypes.c_char_p
        lib.trtmatte_describe.argtypes = [ctypes.c_void_p]
        opts = Options()
        lib.trtmatte_options_init(ctypes.byref(opts))
        opts.threads = threads
        self.handle = ctypes.c_void_p()
        if lib.trtmatte_open(str(graph).encode(), ctypes.byref(opts), ctypes.byref(self.handle)) != 0:
            raise SystemExit(f"libtrtmatte: {lib.trtmatte_last_error().decode()}")
        self.describe = lib.trtmatte_describe(self.handle).decode()

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        alpha = np.empty(rgb.shape[:2], np.uint8)
        if self.lib.trtmatte_matte(self.handle, rgb.ctypes.data_as(u8p), rgb.shape[0], rgb.shape[1], rgb.strides[0],
                                   alpha.ctypes.data_as(u8p)) != 0:
            raise SystemExit(f"libtrtmatte: {self.lib.trtmatte_last_error().decode()}")
        return alpha


def summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"runs": len(seconds), "median_ms": 1e3 * statistics.median(seconds), "mean_ms": 1e3 * statistics.fmean(seconds),
            "min_ms": 1e3 * ordered[0], "max_ms": 1e3 * ordered[-1], "all_ms": [round(1e3 * s, 1) for s in seconds]}


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def throughput(cpp: Cpp, rgb: np.ndarray, images: int, threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:  # ctypes releases the GIL during the call
        list(pool.map(lambda _: cpp(rgb), range(images)))
    return images / (time.perf_counter() - start)


def main(argv=None) -> int:
    args = parse_args(argv)
    import onnxruntime as ort
    from PIL import Image
    from skimage import data

    from trtmatte.bench.environment import machine, versions
    from trtmatte.runtime.ort_session import OrtSession

    library = args.library or build_library()
    load_start = os.getloadavg()
    cpp = Cpp(library, args.graph)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    raw = ort.InferenceSession(str(args.graph), options, providers=["CPUExecutionProvider"])
    trtmatte_session = OrtSession(args.graph)
    sides = {"cpp_libtrtmatte": lambda x: cpp(x[0]),
             "python_onnxruntime": lambda x: raw.run(["alpha"], {"image": x}),
             "python_trtmatte_ortsession": trtmatte_session.run}
    results = {}
    for h, w in args.sizes:
        rgb = np.ascontiguousarray(np.array(Image.fromarray(data.astronaut()).resize((w, h), Image.BILINEAR)))
        batch = rgb[None]
        assert np.abs(cpp(rgb).astype(int) - raw.run(["alpha"], {"image": batch})[0][0]).max() <= 1  # same work
        times = {name: [] for name in sides}
        for name, fn in sides.items():
            fn(batch)  # warm-up: first-run allocations
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            for name in order:
                times[name].append(timed(sides[name], batch))
            print(f"{h}x{w} round {r + 1}: " + ", ".join(f"{n} {1e3 * times[n][-1]:.0f} ms" for n in sides), flush=True)
        results[f"{h}x{w}"] = {name: summary(t) for name, t in times.items()}
        cpp_ms = results[f"{h}x{w}"]["cpp_libtrtmatte"]["median_ms"]
        results[f"{h}x{w}"]["python_over_cpp_median"] = {
            n: results[f"{h}x{w}"][n]["median_ms"] / cpp_ms for n in sides if n != "cpp_libtrtmatte"}

    h, w = args.sizes[0]
    rgb = np.ascontiguousarray(np.array(Image.fromarray(data.astronaut()).resize((w, h), Image.BILINEAR)))
    # 1 or 2 threads calling one handle, with ONNX Runtime's default intra-op threads or 1; the
    # configurations alternate round by round (order flipped) like the latency calls.
    handles = {"default_intra_op_threads": cpp, "1_intra_op_thread": Cpp(library, args.graph, threads=1)}
    configs = [(name, callers) for name in handles for callers in (1, 2)]
    rates = {c: [] for c in configs}
    for handle in handles.values():
        handle(rgb)  # warm-up
    for r in range(args.thread_rounds):
        for name, callers in configs if r % 2 == 0 else reversed(configs):
            rates[(name, callers)].append(throughput(handles[name], rgb, args.thread_images, callers))
    scaling = {"size": f"{h}x{w}", "images_per_measurement": args.thread_images, "rounds": args.thread_rounds,
               **{name: {f"{callers}_caller{'s' if callers > 1 else ''}_median": statistics.median(rates[(name, callers)])
                         for callers in (1, 2)} for name in handles},
               "all": {f"{name}/{callers}": [round(v, 3) for v in rates[(name, callers)]] for name, callers in configs}}
    print("images/s:", json.dumps(scaling), flush=True)

    report = {
        "schema": "trtmatte.bench.cpp_vs_python_ort/1",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "what": "single-image latency, ONNX Runtime backend, same graph and process, calls alternating; "
                "cpp = libtrtmatte's trtmatte_matte through ctypes (uint8 alpha); python_onnxruntime = "
                "InferenceSession.run (uint8 alpha); python_trtmatte_ortsession = OrtSession.run (float alpha)",
        "backend": "onnxruntime", "device": "CPU, 2 cores", "precision": "fp32",
        "graph": {"path": os.path.relpath(args.graph, REPO), "sha256": hashlib.sha256(args.graph.read_bytes()).hexdigest(),
                  "cpp_describe": cpp.describe},
        "onnxruntime_threads": "ONNX Runtime's default intra-op threads on both sides",
        "machine": machine(), "versions": versions(),
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "latency": results, "throughput_images_per_s": scaling,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
