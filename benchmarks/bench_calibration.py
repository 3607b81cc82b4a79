"""INT8 calibration before/after streaming statistics, in one run: time per image and peak memory.

before: onnxruntime's calibrator (``create_calibrator`` on every Conv tensor, ``collect_data``
        fed 4 images per call), as trtmatte calibrated until the streaming statistics;
after:  ``trtmatte.quantize.calibration_stats.streaming_ranges`` on the quantized Convs' inputs.

Each runs in its own child process, so its peak resident size is the kernel's ru_maxrss for that
child alone (os.wait4). The ranges of the tensors both calibrate are compared too. Usage:

    python benchmarks/bench_calibration.py CALIB_DIR --count 4 --size 192 --method percentile \\
        [--model trtmatte/weights/late_fusion_lite_demo.onnx] [--json benchmarks/results/cpu2core_calibration_streaming.json]

Label the figures with the machine: a 2-core x86-64 CPU here, onnxruntime CPU, float32 graph.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CHUNK = 4  # images per collect_data call in the former code


def _setup(args):
    import onnx

    from trtmatte.contract.anatomy import ROLES, analyse, name_nodes
    from trtmatte.data import read_manifest
    from trtmatte.quantize.calibration_data import calibration_images

    model = onnx.load(args.model)
    name_nodes(model.graph)
    anatomy = analyse(model, args.model)
    excluded = {n for role in ROLES for n in anatomy.role(role)}
    quantized = [c for c in anatomy.convs if c not in excluded]
    images = calibration_images(read_manifest(args.calib), args.count, args.size)
    return onnx, model, quantized, images


def before(args, tmp: Path) -> dict:
    from onnxruntime import quantization as q

    from trtmatte.quantize.int8 import CALIBRATION_METHODS, HISTOGRAM_OPTIONS

    onnx, model, _, images = _setup(args)
    onnx.save_model(model, str(tmp / "c.onnx"), save_as_external_data=True, location="c.onnx.data")
    start = time.perf_counter()
    calibrator = q.create_calibrator(
        tmp / "c.onnx", ["Conv"], augmented_model_path=str(tmp / "aug.onnx"),
        calibrate_method=getattr(q.CalibrationMethod, CALIBRATION_METHODS[args.method]), use_external_data_format=True,
        extra_options={"symmetric": True, "percentile": 99.999, **HISTOGRAM_OPTIONS[args.method]})

    class Reader(q.CalibrationDataReader):
        def __init__(self, chunk):
            self.it = iter(chunk)

        def get_next(self):
            image = next(self.it, None)
            return None if image is None else {"image": image[None]}

    with contextlib.redirect_stdout(io.StringIO()):
        for s in range(0, len(images), CHUNK):
            calibrator.collect_data(Reader(images[s:s + CHUNK]))
        ranges = calibrator.compute_data()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "ranges": {k: float(np.asarray(v.range_value[1]).reshape(-1)[0]) for k, v in ranges.items()}}


def after(args, tmp: Path) -> dict:
    from trtmatte.quantize import calibration_stats as cs
    from trtmatte.quantize.int8 import HISTOGRAM_OPTIONS

    _, model, quantized, images = _setup(args)
    tensors = cs.calibrated_tensors(model, quantized, outputs_too=False)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        ranges, stats = cs.streaming_ranges(model, tmp, tensors, images, None, args.method, 99.999, True,
                                            HISTOGRAM_OPTIONS[args.method], int(args.max_memory * 2**30), "image", "trimap")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "passes": stats.passes,
            "ranges": {k: float(np.asarray(v.range_value[1]).reshape(-1)[0]) for k, v in ranges.items()}}


def child(which: str, argv: list[str]) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as f:
        out = Path(f.name)
    proc = subprocess.Popen([sys.executable, __file__, *argv, "--child", which, "--child-out", str(out)], cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{which} failed")
    result = pickle.loads(out.read_bytes())
    out.unlink()
    return {**result, "peak_rss_bytes": usage.ru_maxrss * 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calib")
    parser.add_argument("--model", default=str(REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"))
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--method", default="percentile", choices=["max", "entropy", "percentile"])
    parser.add_argument("--max-memory", type=float, default=2.5)
    parser.add_argument("--json")
    parser.add_argument("--child", choices=["before", "after"])
    parser.add_argument("--child-out")
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as tmp:
            result = (before if args.child == "before" else after)(args, Path(tmp))
        Path(args.child_out).write_bytes(pickle.dumps(result))
        return
    argv = [args.calib, "--model", args.model, "--count", str(args.count), "--size", str(args.size),
            "--method", args.method, "--max-memory", str(args.max_memory)]
    results = {w: child(w, argv) for w in ("before", "after")}
    common = sorted(set(results["before"]["ranges"]) & set(results["after"]["ranges"]))
    rel = [abs(results["after"]["ranges"][k] - results["before"]["ranges"][k]) / max(results["before"]["ranges"][k], 1e-12)
           for k in common]
    summary = {
        "device": f"{os.cpu_count()}-core {platform.machine()} CPU", "backend": "onnxruntime CPU", "precision": "fp32 graph",
        "model": Path(args.model).name, "images": args.count, "size": args.size, "method": args.method,
        **{f"{w}_seconds_per_image": results[w]["seconds"] / args.count for w in results},
        **{f"{w}_peak_rss_gb": results[w]["peak_rss_bytes"] / 2**30 for w in results},
        "after_passes": results["after"]["passes"], "tensors_compared": len(common),
        "max_relative_range_difference": max(rel) if rel else None,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
