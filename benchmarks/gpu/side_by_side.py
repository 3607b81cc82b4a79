"""PyTorch-CUDA: today's FP16 path against the float16 inference form, side by side in one run.

Usage (repo root, on the GPU machine; the repo is copied there, not installed; no TensorRT needed):
    OUT=/some/dir PYTHONPATH=. python3 benchmarks/gpu/side_by_side.py
    PYTHONPATH=. python3 benchmarks/gpu/side_by_side.py --dry-run --out /tmp/x   # CPU: plumbing only

In one process, on one GPU, `late_fusion` (the paper's network, random weights with BatchNorm
statistics re-estimated on scikit-image's photos, so α spans [0, 1]) at 800x800, batch 1:
- previous: `--precision fp16-autocast`, CUDA graph (the 28.2 ms row of docs/results.md);
- new: `--precision fp16`, the float16 inference form (models/inference.py: BatchNorm folded,
  .half() weights and activations, output heads and blend in float32), CUDA graph;
- reference: FP32, eager, BatchNorm not folded: α of both is compared with it on real photos.
Each is timed with trtmatte.bench.runner (H2D / compute / D2H from CUDA events, pipelined
throughput over two slots) in interleaved rounds, so drift is shared. A per-stage profile of the
new form (encoder, the two decoders, the fusion net) puts CUDA-event times next to each stage's
FLOP count (torch.utils.flop_counter) and the FLOP floor at the GPU's dense FP16 rate.
Writes $OUT/gpu_side_by_side.json (device, previous_ms, new_ms, max_abs_dalpha, ...) and a log.
Every figure is PyTorch-CUDA's (labelled torch); none is TensorRT's.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
STAGES = ("encoder", "fg_decoder", "bg_decoder", "fusion")
# dense FP16 tensor-core peak (no sparsity), TFLOP/s, from NVIDIA's data sheets
DENSE_FP16_TFLOPS = {"H100 80GB HBM3": 989.0, "H100 PCIe": 756.0, "H200": 989.0, "H100 NVL": 835.0}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "/tmp/trtmatte-gpu-out"))
    parser.add_argument("--work", help="scratch folder (unused: run_all.py passes one to every part)")
    parser.add_argument("--variant", default="late_fusion")
    parser.add_argument("--size", type=int, default=800, help="square input side (default 800)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per session per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pipeline", type=int, default=32, help="images of the pipelined measurement")
    parser.add_argument("--compile", metavar="MODE",
                        help="also time the float16 form under torch.compile(mode=MODE), e.g. max-autotune-no-cudagraphs "
                             "(the session's own CUDA graph is captured around it); compiling takes minutes")
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU, late_fusion_lite at 64x64, FP32 in place of both FP16 paths: checks the plumbing only")
    args = parser.parse_args(argv)
    if args.size < 32 or args.runs < 1 or args.rounds < 1 or args.pipeline < 0:
        parser.error("--size >= 32, --runs >= 1, --rounds >= 1, --pipeline >= 0")
    if args.dry_run:
        args.variant, args.size, args.runs, args.rounds, args.pipeline = "late_fusion_lite", 64, 2, 1, 4
    return args


def network_with_statistics(variant: str, device: str):
    import torch

    from trtmatte.data.photos import sample_photos
    from trtmatte.models import create_model, get_config
    from trtmatte.models.bn_recalibration import recalibrate_batchnorm

    torch.manual_seed(0)
    pre = get_config(variant).preprocessing
    return recalibrate_batchnorm(create_model(variant), sample_photos(max_side=256), pre).eval(), pre


def photos(size: int) -> list[np.ndarray]:
    from trtmatte.data.photos import sample_photos

    out = []
    for photo in sample_photos(max_side=2 * size)[:3]:
        h, w = photo.shape[:2]
        top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
        out.append(np.ascontiguousarray(photo[top:top + size, left:left + size]))
    return out


def stage_profile(network, pre, size: int, device: str) -> dict:
    """FLOPs per stage, and on a GPU the CUDA-event time of each stage of an eager float16 copy
    (its stages stay modules, so hooks can time them; the traced form has no stage boundaries)."""
    import copy

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from trtmatte.models.preprocess import working_size

    h, w = working_size(size, size, pre.size_multiple, pre.max_side)
    eager = copy.deepcopy(network).to(device)
    if device == "cuda":
        eager = eager.half()
    x = torch.randn(1, 3, h, w, device=device, dtype=next(eager.parameters()).dtype)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        eager(x)
    counts = counter.get_flop_counts()
    prefix = type(eager).__name__
    flops = {stage: int(sum(counts.get(f"{prefix}.{stage}", {}).values())) for stage in STAGES}
    flops["total"] = int(sum(counts.get(prefix, counts.get("Global", {})).values()))
    if device != "cuda":
        return {"working_size": [h, w], "flops": flops, "ms": None}
    marks: dict[str, list] = {stage: [] for stage in STAGES}

    def starts(stage):
        def hook(module, inputs):
            marks[stage].append([torch.cuda.Event(enable_timing=True)])
            marks[stage][-1][0].record()
        return hook

    def ends(stage):
        def hook(module, inputs, output):
            marks[stage][-1].append(torch.cuda.Event(enable_timing=True))
            marks[stage][-1][1].record()
        return hook

    handles = []
    for stage in STAGES:
        module = getattr(eager, stage)
        handles += [module.register_forward_pre_hook(starts(stage)), module.register_forward_hook(ends(stage))]
    with torch.no_grad():
        for _ in range(3):
            eager(x)
        for stage in STAGES:
            marks[stage].clear()
        for _ in range(20):
            eager(x)
    torch.cuda.synchronize()
    for handle in handles:
        handle.remove()
    ms = {stage: float(np.median([a.elapsed_time(b) for a, b in marks[stage]])) for stage in STAGES}
    return {"working_size": [h, w], "flops": flops, "ms": ms, "eager": "float16 (.half()), BatchNorm not folded"}


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logfile = out / "side_by_side.log"

    def log(msg: str) -> None:
        print(msg, flush=True)
        with open(logfile, "a") as f:
            f.write(msg + "\n")

    import torch

    from trtmatte.bench.runner import BenchConfig, run_bench
    from trtmatte.runtime.torch_session import TorchSession

    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        log("no CUDA GPU: run with --dry-run on a CPU machine")
        return 1
    start = time.monotonic()
    network, pre = network_with_statistics(args.variant, device)
    slots = 2 if device == "cuda" else 1
    shape = (1, args.size, args.size, 3)
    common = dict(max_shape=shape, contexts=slots) if device == "cuda" else {}
    fp16 = "fp32" if args.dry_run else "fp16"
    sessions = {
        "previous": TorchSession(network, pre, args.variant, device, cuda_graphs=device == "cuda", fold_batchnorm=False,
                                 precision="fp32" if args.dry_run else "fp16-autocast", **common),
        "new": TorchSession(network, pre, args.variant, device, precision=fp16, cuda_graphs=device == "cuda", **common),
    }
    if args.compile:
        compiled = TorchSession(network, pre, args.variant, device, precision=fp16, cuda_graphs=device == "cuda", **common)
        compiled.pipeline.network = torch.compile(compiled.pipeline.network, mode=args.compile, dynamic=False)
        sessions["compiled"] = compiled
    reference = TorchSession(network, pre, args.variant, device, fold_batchnorm=False, **common)
    log(f"new form: {sessions['new'].inference_form}")
    config = BenchConfig(args.size, args.size, 1, runs=args.runs, warmup=3, pipeline_images=args.pipeline)
    rounds = {name: [] for name in sessions}
    for r in range(args.rounds):
        for name, session in sessions.items():
            result = run_bench(session, config)
            rounds[name].append(result)
            split = result["split_s"]
            log(f"round {r + 1} {name:<8} {result['label']}: {result['latency_s']['mean'] * 1e3:.2f} ms mean"
                + (f", compute {split['compute']['mean'] * 1e3:.2f} ms" if split else "")
                + (f", pipelined {result['pipelined']['images_per_s']:.1f} img/s" if result["pipelined"] else ""))

    def summary(name):
        results = rounds[name]
        samples = np.concatenate([r["samples_s"] for r in results]) * 1e3
        piped = [r["pipelined"]["images_per_s"] for r in results if r["pipelined"]]
        return {"label": results[0]["label"], "mean_ms": float(samples.mean()), "p50_ms": float(np.percentile(samples, 50)),
                "p99_ms": float(np.percentile(samples, 99)), "pipelined_images_per_s": float(np.mean(piped)) if piped else None,
                "graphs": results[0]["graphs"], "rounds_mean_ms": [r["latency_s"]["mean"] * 1e3 for r in results]}

    previous, new = summary("previous"), summary("new")
    compiled = summary("compiled") if "compiled" in sessions else None
    deltas = {}
    for name, session in sessions.items():
        worst = 0.0
        for image in photos(args.size):
            ref = reference.run(image[None]).copy()
            worst = max(worst, float(np.abs(session.run(image[None]) - ref).max()))
        deltas[name] = worst
    profile = stage_profile(network, pre, args.size, device)
    device_name = torch.cuda.get_device_name() if device == "cuda" else "cpu (dry run)"
    peak = DENSE_FP16_TFLOPS.get(device_name)
    if profile["ms"] and peak:
        profile["floor_ms"] = {s: profile["flops"][s] / (peak * 1e12) * 1e3 for s in STAGES}
        profile["fraction_of_peak"] = {s: profile["floor_ms"][s] / profile["ms"][s] for s in STAGES if profile["ms"][s]}
    try:
        driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        driver = None
    report = {
        "what": "PyTorch-CUDA (labelled torch): FP16 autocast + CUDA graph vs the float16 inference form + CUDA graph",
        "dry_run": args.dry_run, "device": device_name, "driver": driver, "torch": torch.__version__,
        "variant": args.variant, "weights": "random, BatchNorm statistics re-estimated on scikit-image photos",
        "input": f"{args.size}x{args.size}, batch 1, uint8 in -> alpha out",
        "previous_ms": previous["mean_ms"], "new_ms": new["mean_ms"], "speedup": previous["mean_ms"] / new["mean_ms"],
        "max_abs_dalpha": deltas["new"], "previous_max_abs_dalpha": deltas["previous"],
        "dalpha_reference": "FP32 eager, BatchNorm not folded, on 3 scikit-image photos",
        "previous": previous, "new": new, "new_form": sessions["new"].inference_form, "stages": profile,
        "compiled": compiled and {**compiled, "mode": args.compile, "max_abs_dalpha": deltas["compiled"]},
        "dense_fp16_tflops": peak, "seconds": time.monotonic() - start,
    }
    (out / "gpu_side_by_side.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"previous {previous['mean_ms']:.2f} ms, new {new['mean_ms']:.2f} ms: {report['speedup']:.2f}x; "
        f"max |dalpha| vs FP32: new {deltas['new']:.2e}, previous {deltas['previous']:.2e}")
    log(f"wrote {out / 'gpu_side_by_side.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
