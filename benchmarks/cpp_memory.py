"""Peak and retained resident memory of libtrtmatte's ONNX Runtime session, with and without ONNX
Runtime's CPU arena (Options::cpu_arena / trtmatte_options.cpu_arena / --no-cpu-arena).

Each (size, arena) pair runs in a fresh process that opens the bundled model through the C ABI,
mattes one image of that size, and reads /proc/self/status: VmHWM (peak, reset after opening by
writing 5 to /proc/self/clear_refs) and VmRSS once the call has returned, with the model still
open (what a server keeps between requests). Figures are MB above the RSS right after opening.

    python benchmarks/cpp_memory.py --library build/lib/libtrtmatte.so
writes benchmarks/results/cpu2core_cpp_memory.json. Device: the 2-core x86-64 CPU, backend
onnxruntime, fp32 (the bundled graph)."""
from __future__ import annotations

import argparse
import ctypes
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GRAPH = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"
SIZES = (1000, 2000, 4000)  # square sides: 1, 4 and 16 megapixels


class Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("backend", ctypes.c_int), ("threads", ctypes.c_int),
                ("contexts", ctypes.c_int), ("cuda_graphs", ctypes.c_int), ("onnxruntime_library", ctypes.c_char_p),
                ("tensorrt_library", ctypes.c_char_p), ("cpu_arena", ctypes.c_int), ("device", ctypes.c_int),
                ("cuda_graph_cache", ctypes.c_int)]


def status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def one_run(library: str, side: int, arena: bool) -> dict:
    lib = ctypes.CDLL(library)
    lib.trtmatte_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(Options), ctypes.POINTER(ctypes.c_void_p)]
    lib.trtmatte_matte.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_size_t,
                                   ctypes.c_void_p]
    lib.trtmatte_last_error.restype = ctypes.c_char_p
    options = Options()
    lib.trtmatte_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
    options.cpu_arena = int(arena)
    handle = ctypes.c_void_p()
    if lib.trtmatte_open(str(GRAPH).encode(), ctypes.byref(options), ctypes.byref(handle)) != 0:
        raise SystemExit(lib.trtmatte_last_error().decode())
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (side, side, 3), np.uint8)
    alpha = np.zeros((side, side), np.uint8)
    opened = status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    status = lib.trtmatte_matte(handle, rgb.ctypes.data, side, side, side * 3, alpha.ctypes.data)
    if status != 0:
        raise SystemExit(lib.trtmatte_last_error().decode())
    peak, retained = status_mb("VmHWM"), status_mb("VmRSS")
    # What glibc keeps in its per-thread heaps after the call: trtmatte-httpd trims after each request.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    trimmed = status_mb("VmRSS")
    lib.trtmatte_close(handle)
    return {"side": side, "megapixels": side * side / 1e6, "cpu_arena": arena,
            "peak_mb": round(peak - opened, 1), "retained_mb": round(retained - opened, 1),
            "retained_after_malloc_trim_mb": round(trimmed - opened, 1), "rss_after_open_mb": round(opened, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default=str(REPO / "build" / "lib" / "libtrtmatte.so"))
    parser.add_argument("--one", nargs=2, metavar=("SIDE", "ARENA"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "cpu2core_cpp_memory.json"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(args.library, int(args.one[0]), args.one[1] == "1")))
        return
    runs = []
    for side in SIZES:
        for arena in (True, False):
            out = subprocess.run([sys.executable, __file__, "--library", args.library, "--one", str(side),
                                  str(int(arena))], capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(out))
            print(runs[-1], flush=True)
    # The network runs at its working size, so a call's memory is a fixed part plus a part that
    # grows with the input's pixels: a least-squares line over the sizes gives both.
    fits = {}
    for arena in (True, False):
        rows = [r for r in runs if r["cpu_arena"] == arena]
        mp = np.array([r["megapixels"] for r in rows])
        fit = {}
        for key in ("peak_mb", "retained_mb", "retained_after_malloc_trim_mb"):
            slope, fixed = np.polyfit(mp, np.array([r[key] for r in rows]), 1)
            fit[key] = {"fixed_mb": round(float(fixed), 1), "mb_per_megapixel": round(float(slope), 1)}
        fits["arena_on" if arena else "arena_off"] = fit
    result = {"device": f"2-core x86-64 CPU ({platform.processor() or platform.machine()})",
              "backend": "onnxruntime (libtrtmatte C ABI)", "precision": "fp32", "model": GRAPH.name,
              "what": "RSS above the RSS after opening: peak during one call, retained after it with the model open",
              "runs": runs, "fixed_plus_per_megapixel": fits}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
