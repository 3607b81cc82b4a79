"""TensorRT-RTX on this GPU: build plans of the bundled graph here, run them with TensorRTSession.

Hopper (SM90) is not in TensorRT-RTX's support matrix (7.5/8.0/8.6/8.9/12.0/12.1); this part
finds out what happens there, and records the builder's and runtime's own words when they refuse.

Usage (repo root, on the GPU machine; run_all.py runs it as one part; the runtime comes from
benchmarks/gpu/carry_rtx.sh, unpacked to --rtx-site):
    PYTHONPATH=. python3 benchmarks/gpu/rtx_hopper.py --out DIR [--rtx-site /tmp/trtmatte-rtx/site]
    PYTHONPATH=. python3 benchmarks/gpu/rtx_hopper.py --dry-run --out DIR   # CPU: see below

Per precision (FP32: the bundled graph; FP16: convert_fp16 of it; INT8: quantize_int8 of it,
max calibration on 4 scikit-image photos):
1. build a plan on this machine, first as `trtmatte build` would (targets: this GPU's compute
   capability), then, if that fails, for ``ComputeCapability.CURRENT`` with the same builder
   calls, then for SM89 (to hear the runtime on a plan for another GPU);
2. deserialize it and run TensorRTSession with CUDA graphs: latency at --size² (trtmatte.bench),
   and α on real photos against onnxruntime (CPU) on the same graph and on the FP32 graph.
Then, in a child process (TensorRT-RTX's ONNX parser has aborted the process on a plugin node):
the fused-blend plugin path: trtmatte's refusal, the plugin registry's answer, the parser's.
Writes gpu_tensorrt_rtx.json: device, ``ran``, per precision latency_ms and
max_abs_dalpha_vs_onnxruntime (or ``error`` in TensorRT-RTX's words), ``plugins``.

--dry-run (CPU): the same steps at 320x320 on one photo; the builds are real (TensorRT-RTX builds
without a GPU), the load is refused (no GPU: its error is recorded), and onnxruntime stands in for
the session so the α and latency plumbing runs; those figures are labelled onnxruntime.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
BUNDLED = REPO / "trtmatte" / "weights" / "late_fusion_lite_demo.onnx"
PRECISIONS = ("fp32", "fp16", "int8")
LOGGERS: dict = {}  # precision -> the TensorRT-RTX logger of its runtime (raw routes)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("OUT", "/tmp/trtmatte-gpu-out"))
    p.add_argument("--work", default="/tmp/trtmatte-gpu-work/tensorrt_rtx", help="graphs and plans")
    p.add_argument("--rtx-site", default=os.environ.get("TRTMATTE_RTX_SITE", "/tmp/trtmatte-rtx/site"),
                   help="folder holding the tensorrt_rtx packages (carry_rtx.sh); used when it exists")
    p.add_argument("--graph", default=str(BUNDLED), help="whole-pipeline ONNX graph (default: the bundled one)")
    p.add_argument("--plugin-graph", default=str(BUNDLED),
                   help="graph whose blend the plugin probe fuses (default: the bundled one)")
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--size", type=int, default=800, help="square latency size (default 800)")
    p.add_argument("--runs", type=int, default=50, help="timed runs per precision")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    p.add_argument("--photos", type=int, default=3, help="scikit-image photos for α")
    p.add_argument("--dry-run", action="store_true", help="CPU: 320x320, 1 photo, 1 run; onnxruntime stands in")
    p.add_argument("--plugin-probe", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = p.parse_args(argv)
    args.precisions = args.precisions.split(",")
    bad = [x for x in args.precisions if x not in PRECISIONS]
    if bad:
        p.error(f"unknown precision {', '.join(bad)}: choose from {', '.join(PRECISIONS)}")
    if not 320 <= args.size <= 1024 or args.runs < 1 or args.photos < 1:
        p.error("--size within the plans' profile 320..1024; --runs and --photos >= 1")
    if args.dry_run:
        args.size, args.runs, args.warmup, args.photos = 320, 1, 0, 1
    return args


def words(exc: BaseException) -> str:
    """An exception as one line: its type and its own message."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def import_rtx(site: str):
    if os.path.isdir(site) and site not in sys.path:
        sys.path.insert(0, site)
    os.environ["TRTMATTE_TENSORRT"] = "tensorrt_rtx"
    import tensorrt_rtx

    return tensorrt_rtx


def photos(size: int, count: int) -> list[np.ndarray]:
    """scikit-image photos, centre crops of at most size x size; none under 320 on a side (the plans'
    profile minimum, so chelsea's 300 rows are left out)."""
    from trtmatte.data.photos import sample_photos

    out = []
    for photo in [p for p in sample_photos(max_side=2 * size) if min(p.shape[:2]) >= 320][:count]:
        h, w = photo.shape[:2]
        top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
        out.append(np.ascontiguousarray(photo[top:top + size, left:left + size]))
    return out


def make_graph(precision: str, src: Path, work: Path) -> Path:
    if precision == "fp32":
        return src
    dst = work / f"{precision}.onnx"
    if precision == "fp16":
        from trtmatte.quantize.fp16 import convert_fp16

        convert_fp16(src, dst)
    else:
        from trtmatte.quantize.int8 import quantize_int8

        calibration = [np.ascontiguousarray(p[:208, :320]) for p in photos(320, 4)]
        quantize_int8(src, dst, calibration, method="max")
    return dst


def raw_build(trt, graph: Path, plan: Path, target: str) -> dict:
    """The builder calls of trtmatte.engine.builder with one named target (e.g. CURRENT, which
    `trtmatte build` does not offer); returns the builder's words when it fails."""
    from trtmatte.engine.builder import BuildOptions
    from trtmatte.engine.logging_hooks import make_capture_logger
    from trtmatte.engine.parser import parse_onnx

    logger = make_capture_logger(trt)
    parsed = parse_onnx(graph, "tensorrt_rtx", logger=logger)
    config = parsed.builder.create_builder_config()
    profile = parsed.builder.create_optimization_profile()
    shapes = {}
    for i in range(parsed.network.num_inputs):
        tensor = parsed.network.get_input(i)
        shapes[tensor.name] = BuildOptions().profile(list(tensor.shape))
        profile.set_shape(tensor.name, *(tuple(shapes[tensor.name][k]) for k in ("min", "opt", "max")))
    config.add_optimization_profile(profile)
    config.num_compute_capabilities = 1
    config.set_compute_capability(getattr(trt.ComputeCapability, target), 0)
    start = time.perf_counter()
    blob = parsed.builder.build_serialized_network(parsed.network, config)
    seconds = round(time.perf_counter() - start, 2)
    if blob is None:
        errors = logger.texts(trt.Logger.ERROR)
        return {"target": target, "error": " | ".join(" ".join(e.split()) for e in errors[-3:]) or "no error message",
                "build_s": seconds}
    plan.write_bytes(bytes(blob))
    return {"target": target, "plan": str(plan), "plan_mib": round(plan.stat().st_size / 2**20, 1), "build_s": seconds,
            "profile": shapes}


def deserialize(trt, plan: Path):
    """(engine, runtime) or raise with the runtime's own words."""
    from trtmatte.engine.logging_hooks import make_capture_logger

    logger = make_capture_logger(trt)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(plan.read_bytes())
    if engine is None:
        errors = logger.texts(trt.Logger.ERROR) or logger.texts()
        raise RuntimeError("TensorRT-RTX could not deserialize the plan: "
                           + (" | ".join(" ".join(e.split()) for e in errors[-3:]) or "no message"))
    return engine, runtime, logger


def open_session(trt, precision: str, graph: Path, work: Path, gpu, entry: dict):
    """Build and load a plan, trying trtmatte's own route first; record every attempt in entry."""
    from trtmatte.engine.builder import BuildOptions, build_engine
    from trtmatte.runtime.session import SessionInfo
    from trtmatte.runtime.tensorrt_session import TensorRTSession, TrtEngineLayer

    attempts = entry["attempts"] = []
    plan = work / f"{precision}.plan"
    try:
        result = build_engine(graph, plan, BuildOptions())
        attempts.append({"route": "trtmatte build", "targets": result.meta.targets, "build_s": result.meta.build_seconds,
                         "plan_mib": round(result.meta.plan_bytes / 2**20, 1)})
        try:
            return TensorRTSession(plan, **with_cuda_graphs())
        except Exception as exc:
            attempts[-1]["load_error"] = words(exc)
    except Exception as exc:
        attempts.append({"route": "trtmatte build", "error": words(exc)})
    if gpu is None:
        return None  # no GPU: the other routes cannot load either
    for target in ("CURRENT", "SM89"):
        try:
            built = raw_build(trt, graph, work / f"{precision}_{target}.plan", target)
        except Exception as exc:
            built = {"target": target, "error": words(exc)}
        attempts.append({"route": f"builder calls, ComputeCapability.{target}", **built})
        if "error" in built:
            continue
        try:
            engine, runtime, logger = deserialize(trt, Path(built["plan"]))
            LOGGERS[precision] = logger  # its errors explain a failure while running
            loaded = SimpleNamespace(engine=engine, runtime=runtime, trt=trt)
            info = SessionInfo("tensorrt", precision, gpu.name, "late_fusion_lite", f"(TensorRT-RTX) {trt.__version__}")
            return TensorRTSession(TrtEngineLayer(loaded), **with_cuda_graphs(), profile=built["profile"], info=info)
        except Exception as exc:
            attempts[-1]["load_error"] = words(exc)
    return None


def with_cuda_graphs() -> dict:
    """TensorRTSession's CUDA-graph keyword (``cuda_graphs``; ``graphs`` before the rename)."""
    import inspect

    from trtmatte.runtime.tensorrt_session import TensorRTSession

    params = inspect.signature(TensorRTSession).parameters
    return {"cuda_graphs": True} if "cuda_graphs" in params else {"graphs": True}


def measure(session, graph: Path, reference: list, images, size: int, runs: int, warmup: int) -> dict:
    from trtmatte.bench.runner import BenchConfig, run_bench
    from trtmatte.runtime.ort_session import OrtSession

    bench = run_bench(session, BenchConfig(size, size, 1, runs=runs, warmup=warmup))
    same = OrtSession(str(graph))
    d_same = d_fp32 = 0.0
    for i, image in enumerate(images):
        alpha = np.array(session.run(image[None]), dtype=np.float32)
        d_same = max(d_same, float(np.abs(alpha - same.run(image[None])).max()))
        d_fp32 = max(d_fp32, float(np.abs(alpha - reference[i]).max()))
    return {"label": bench["label"], "latency_ms": bench["latency_s"]["mean"] * 1e3,
            "p50_ms": bench["latency_s"]["p50"] * 1e3, "p99_ms": bench["latency_s"]["p99"] * 1e3,
            "cuda_graphs": bench["graphs"], "max_abs_dalpha_vs_onnxruntime": d_same,
            "max_abs_dalpha_vs_onnxruntime_fp32": d_fp32}


def plugin_probe(args) -> int:
    """Child process: each step is printed and saved before the next (the parse may abort)."""
    work = Path(args.work)
    result: dict = {}
    path = work / "plugin_probe.json"

    def step(name, fn):
        try:
            result[name] = fn()
        except Exception as exc:
            result[name] = {"error": words(exc)}
        print(f"plugin probe {name}: {result[name]}", flush=True)
        path.write_text(json.dumps(result, indent=2, default=str))

    trt = import_rtx(args.rtx_site)
    import onnx

    from trtmatte.export.blend_rewrite import fuse_blend
    from trtmatte.fused_blend.blend_op import PLUGIN_NAMESPACE
    from trtmatte.fused_blend.trt_plugin import plugin_classes, register_python_plugin

    fused = work / "fused_blend.onnx"
    model = onnx.load(args.graph)
    def fuse():
        done = fuse_blend(model, args.plugin_graph)
        onnx.save(model, fused)
        return {"node": done["node"], "replaced": len(done["replaced"])}

    step("fuse", fuse)
    step("trtmatte_refusal", lambda: register_python_plugin(trt, check_kernel=False) and "registered")
    step("network_has_add_plugin_v3", lambda: hasattr(trt.INetworkDefinition, "add_plugin_v3"))

    def register():
        creator = plugin_classes(trt)[1]()
        result["_creator"] = creator  # the registry keeps a raw pointer
        return {"register_creator": bool(trt.get_plugin_registry().register_creator(creator, PLUGIN_NAMESPACE))}

    step("registry", register)
    result.pop("_creator", None)
    print("plugin probe parse: TensorRT-RTX's ONNX parser on the fused graph (it may abort)", flush=True)
    path.write_text(json.dumps(result, indent=2, default=str))

    def parse():
        from trtmatte.engine.parser import parse_onnx

        parsed = parse_onnx(fused, "tensorrt_rtx")
        return {"parsed": True, "layers": parsed.network.num_layers}

    step("parse", parse)
    return 0


def run_plugin_probe(args, work: Path) -> dict:
    cmd = [sys.executable, __file__, "--plugin-probe", "--work", str(work), "--rtx-site", args.rtx_site,
           "--plugin-graph", args.plugin_graph]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
        rc, output = r.returncode, r.stdout + r.stderr
    except subprocess.TimeoutExpired:
        rc, output = None, "timed out after 120 s"
    found = work / "plugin_probe.json"
    steps = json.loads(found.read_text()) if found.is_file() else {}
    if "parse" not in steps and rc is not None and rc < 0:  # it died inside the parser: say so, with its last words
        last = output.strip().splitlines()[-1] if output.strip() else ""
        steps["parse"] = {"error": f"TensorRT-RTX's ONNX parser ended the process (signal {-rc}) on the FusedBlend node: {last}"}
    accepts = bool(steps.get("parse", {}).get("parsed"))
    return {"accepts_plugins": accepts, "child_exit": rc, "steps": steps,
            "output_tail": "\n".join(output.strip().splitlines()[-15:])}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.plugin_probe:
        return plugin_probe(args)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {"part": "tensorrt_rtx", "dry_run": args.dry_run, "device": None, "ran": False,
                    "graph": os.path.relpath(args.graph, REPO), "size": f"{args.size}x{args.size}", "precisions": {}}

    def save():
        (out / "gpu_tensorrt_rtx.json").write_text(json.dumps(report, indent=2, default=str) + "\n")

    try:
        trt = import_rtx(args.rtx_site)
    except Exception as exc:
        report["error"] = (f"cannot import tensorrt_rtx ({words(exc)}): bring the runtime with "
                           "benchmarks/gpu/carry_rtx.sh's two transfers, unpacked to --rtx-site")
        save()
        print(report["error"])
        return 1
    from trtmatte.engine.flavour import current_gpu
    from trtmatte.runtime.ort_session import OrtSession

    gpu = current_gpu()
    report["device"] = gpu.name if gpu else ("cpu (dry run)" if args.dry_run else None)
    report["gpu_sm"] = gpu.sm if gpu else None
    report["tensorrt_rtx"] = trt.__version__
    report["compute_capabilities"] = [n for n in trt.ComputeCapability.__members__ if n not in ("NONE",)]
    report["sm90_is_a_builder_target"] = "SM90" in report["compute_capabilities"]
    save()
    images = photos(args.size, args.photos)
    fp32 = OrtSession(args.graph)
    reference = [np.array(fp32.run(image[None]), dtype=np.float32) for image in images]
    for precision in args.precisions:
        entry = report["precisions"][precision] = {}
        start = time.monotonic()

        def stage(name: str) -> None:  # saved first: if the process dies there, the JSON says where
            entry["stage"] = name
            print(f"{precision}: {name}", flush=True)
            save()

        try:
            stage("making the graph")
            graph = make_graph(precision, Path(args.graph), work)
            entry["graph_s"] = round(time.monotonic() - start, 1)
            stage("building and loading the plan")
            session = open_session(trt, precision, graph, work, gpu, entry)
            stage("running")
            if session is None and args.dry_run:
                session = OrtSession(str(graph))  # the stand-in: plumbing only, labelled onnxruntime
                entry["stand_in"] = "onnxruntime CPU (dry run): these figures are not TensorRT-RTX's"
            if session is None:
                entry["error"] = "; ".join(a.get("load_error") or a.get("error", "") for a in entry["attempts"])
            else:
                entry.update(measure(session, graph, reference, images, args.size, args.runs, args.warmup))
                report["ran"] = report["ran"] or "stand_in" not in entry
        except Exception as exc:
            entry["error"] = words(exc)
            entry["traceback"] = traceback.format_exc()[-1500:]
            if precision in LOGGERS:
                entry["tensorrt_errors"] = LOGGERS[precision].texts(trt.Logger.ERROR)[-3:]
        else:
            entry.pop("stage")
        entry["seconds"] = round(time.monotonic() - start, 1)
        print(f"{precision}: {({k: v for k, v in entry.items() if k != 'traceback'})}", flush=True)
        save()
    report["plugins"] = run_plugin_probe(args, work)
    print(f"plugins: accepted {report['plugins']['accepts_plugins']}, child exit {report['plugins']['child_exit']}")
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
