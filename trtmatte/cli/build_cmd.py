"""`trtmatte build`: a TensorRT engine from an exported graph (the work is engine/builder.py)."""
from __future__ import annotations

import argparse

from ..engine.flavour import FLAVOURS
from ..shapes import argtype, parse_batch_range, parse_hw
from .base import Command


class Build(Command):
    """Build a TensorRT engine from an exported ONNX graph (precision comes from the ONNX).

    Uses standard TensorRT if installed, else TensorRT-RTX (builds without a GPU). Writes the plan,
    PLAN.json (what it was built for) and PLAN.layers.json (per-layer precisions). Example:
      trtmatte build late_fusion.onnx -o late_fusion.plan --min 320x320 --opt 800x800 --max 1024x1024
    """

    name = "build"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("onnx", help="exported graph (`trtmatte export`, optionally `trtmatte quantize`d)")
        parser.add_argument("-o", "--output", required=True, help="plan file to write")
        parser.add_argument("--min", type=argtype(parse_hw, "--min"), default="320x320", help="smallest input HxW (default 320x320)")
        parser.add_argument("--opt", type=argtype(parse_hw, "--opt"), default="800x800", help="input HxW to tune for (default 800x800)")
        parser.add_argument("--max", type=argtype(parse_hw, "--max"), default="1024x1024", help="largest input HxW (default 1024x1024)")
        parser.add_argument("--batch", type=argtype(parse_batch_range, "--batch"), default="1", help="batch N or MIN,OPT,MAX (default 1)")
        parser.add_argument("--workspace", type=int, metavar="MIB", help="workspace limit in MiB")
        parser.add_argument("--opt-level", type=int, default=3, help="builder optimization level 0..5 (default 3)")
        parser.add_argument("--timing-cache", metavar="FILE", help="timing cache to read and update")
        parser.add_argument("--plugin", action="append", default=[], metavar="LIB",
                            help="plugin library to load and serialize into the plan (standard TensorRT only)")
        parser.add_argument("--compute-capability", action="append", metavar="SMxy",
                            help="TensorRT-RTX target (repeatable; default: this GPU, else SM80 SM86 SM89 SM120)")
        parser.add_argument("--hardware-compatible", action="store_true", help="standard TensorRT: run on any Ampere+ GPU")
        parser.add_argument("--version-compatible", action="store_true", help="standard TensorRT: version-compatible plan")
        parser.add_argument("--dla-core", type=int, metavar="N",
                            help="standard TensorRT on Jetson AGX Orin/Orin NX/Xavier: run on DLA core N (0 or 1); "
                                 "fp16 or int8 graphs only (docs/jetson.md)")
        parser.add_argument("--allow-gpu-fallback", action="store_true",
                            help="with --dla-core: run the layers the DLA cannot on the GPU instead of failing")
        parser.add_argument("--tensorrt", choices=FLAVOURS, help="force the TensorRT flavour")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def run(self, args: argparse.Namespace) -> int:
        from ..engine.builder import BuildOptions, build_engine
        from ..engine.flavour import flavour_label

        opts = BuildOptions(min_hw=args.min, opt_hw=args.opt, max_hw=args.max, batch=args.batch,
                            workspace_mib=args.workspace, optimization_level=args.opt_level,
                            timing_cache=args.timing_cache, plugins=args.plugin,
                            compute_capabilities=args.compute_capability, hardware_compatible=args.hardware_compatible,
                            version_compatible=args.version_compatible, dla_core=args.dla_core,
                            gpu_fallback=args.allow_gpu_fallback, flavour=args.tensorrt,
                            progress=not args.no_progress)
        result = build_engine(args.onnx, args.output, opts)
        m = result.meta
        counts = result.report.precision_counts() if result.report else {}
        target = ", ".join(m.targets) if m.targets else m.gpu_name
        if m.dla_core is not None:
            target += f" DLA core {m.dla_core}" + (" (GPU fallback)" if m.gpu_fallback else "")
        print(f"wrote {result.plan}: {m.plan_bytes / 2**20:.1f} MiB, {m.precision}, "
              f"{flavour_label(m.tensorrt_flavour)} {m.tensorrt_version} "
              f"for {target}, built in {m.build_seconds:.1f} s; conv/GEMM layers by precision: {counts}")
        for note in m.notes:
            print(f"note: {note}")
        return 0
