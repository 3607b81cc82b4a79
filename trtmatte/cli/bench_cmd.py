from __future__ import annotations

import argparse

from ..shapes import argtype, parse_hw
from .base import Command
from .model_flags import add_model_arguments, open_matter


class Bench(Command):
    """Time a backend on random frames: latency percentiles, images/s, the ratio to the paper's 0.39 s.

    GPU backends add the H2D / compute / D2H split (CUDA events), pipelined throughput
    (--pipeline N) and pinned vs pageable transfers (--transfers). Every figure is labelled with the
    backend that produced it, precision, device, input size and versions.
    Example: trtmatte bench --backend onnxruntime --onnx late_fusion.onnx --size 800x800 --runs 10 --json bench.json
    Example: trtmatte bench --backend torch --variant late_fusion --device cuda --precision fp16 --pipeline 64
    """

    name = "bench"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_model_arguments(parser)
        parser.add_argument("--size", type=argtype(parse_hw, "--size"), default=(800, 800), help="HEIGHTxWIDTH of the frames (default 800x800)")
        parser.add_argument("--batch", type=int, default=1)
        parser.add_argument("--runs", type=int, default=20, help="timed runs (default 20)")
        parser.add_argument("--duration", type=float, help="time for this many seconds instead of --runs")
        parser.add_argument("--warmup", type=int, default=3)
        parser.add_argument("--pipeline", type=int, default=0, metavar="N",
                            help="also time the pipelined mode over N frames (two slots on GPU backends)")
        parser.add_argument("--graphs", action="store_true", help="capture a CUDA graph per input shape and replay it")
        parser.add_argument("--transfers", action="store_true",
                            help="pinned vs pageable H2D/D2H bandwidth of one frame and of 64 MiB (cuda-python)")
        parser.add_argument("--json", metavar="PATH", help="write the result (schema trtmatte.bench/1)")
        parser.add_argument("--plot", metavar="PNG", help="latency histogram and timeline against 0.39 s (matplotlib)")

    def run(self, args: argparse.Namespace) -> int:
        import json

        from ..bench.runner import BenchConfig, run_bench, summary_lines
        from ..errors import TrtmatteError
        from ..fileio import atomic_output, check_writable

        for path in (args.json, args.plot):
            if path:
                check_writable(path)  # before the runs, not after
        if args.batch < 1 or args.runs < 1 or args.warmup < 0 or (args.duration is not None and args.duration <= 0):
            raise TrtmatteError("--batch and --runs must be at least 1, --warmup at least 0, --duration positive")
        if args.backend in ("torch", "auto") and not (args.weights or args.onnx or args.engine) and not args.variant:
            args.variant = "late_fusion"  # timing the paper's network by default; stated as random weights
        height, width = args.size
        matter = open_matter(args, cuda_graphs=args.graphs, random_weights=True, contexts=2 if args.pipeline else 1)
        print(f"backend: {matter.reason}")
        config = BenchConfig(height=height, width=width, batch=args.batch, runs=args.runs, duration_s=args.duration,
                             warmup=args.warmup, pipeline_images=args.pipeline, transfers=args.transfers)
        notes = [f"backend chosen: {matter.reason}"]
        with matter:
            result = run_bench(matter.session, config, weights_note=getattr(matter.session, "weights_note", None) or None,
                               notes=notes, log=print)
        print("\n".join(summary_lines(result)))
        if args.json:
            with atomic_output(args.json) as tmp:
                tmp.write_text(json.dumps(result, indent=2))
            print(f"json: {args.json}")
        if args.plot:
            from ..bench.plot import plot_result

            print(f"plot: {plot_result(result, args.plot)}")
        return 0
