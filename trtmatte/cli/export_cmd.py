from __future__ import annotations

import argparse
import re

from .base import Command


def parse_shape(text: str) -> tuple[int, int, int]:
    """'HxW' (batch 1) or 'NxHxW' -> (N, H, W); every number positive."""
    from ..errors import TrtmatteError

    if not re.fullmatch(r"-?\d+(x-?\d+){1,2}", text):
        raise TrtmatteError(f"--shape must look like HxW or NxHxW (e.g. 800x800), got {text!r}")
    dims = tuple(int(v) for v in text.split("x"))
    if min(dims) < 1:
        raise TrtmatteError(f"--shape must be positive, got {text}")
    return dims if len(dims) == 3 else (1, *dims)


class Export(Command):
    """Export the whole pipeline (pre-processing, network, blend, post-processing) to ONNX.

    The graph takes uint8 [N, H, W, 3] RGB pixels named `image` (any N, H, W) and returns
    `alpha` [N, H, W] (uint8 x255 by default). Simplified with onnx-simplifier, checked with
    onnx.checker. --check compares onnxruntime against PyTorch on real photos. Example:
      trtmatte export --weights late_fusion.safetensors -o late_fusion.onnx --check
    """

    name = "export"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--weights", required=True, help="checkpoint to export (see `trtmatte init-weights`)")
        parser.add_argument("--variant", help="registry variant, when the weights file does not say")
        parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
        parser.add_argument("--alpha-dtype", default="uint8", choices=["uint8", "float16", "float32"],
                            help="dtype of the alpha output (default uint8: 0..255)")
        parser.add_argument("--debug-outputs", action="store_true", help="also output fg, bg and beta")
        parser.add_argument("--max-side", type=int, help="cap on the longer working side (default: the variant's)")
        parser.add_argument("--shape", help="static input shape HxW or NxHxW instead of dynamic N, H, W")
        parser.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 17; default 18)")
        parser.add_argument("--no-simplify", action="store_true", help="skip onnx-simplifier")
        parser.add_argument("--fused-blend", action="store_true",
                            help="replace the sigmoids + blend with one trtmatte::FusedBlend node (TensorRT plugin: "
                                 "build with standard TensorRT and --plugin; TensorRT-RTX and onnxruntime cannot run it)")
        parser.add_argument("--check", action="store_true",
                            help="measure onnxruntime vs PyTorch on real photos; exit 1 if over tolerance")
        parser.add_argument("--json", metavar="PATH", help="write the export report (and parity stats) as JSON")

    def run(self, args: argparse.Namespace) -> int:
        import dataclasses
        import json

        from ..checkpoints.native import load_model
        from ..errors import TrtmatteError
        from ..export import ExportOptions, export_onnx

        from ..fileio import check_writable

        shape = parse_shape(args.shape) if args.shape else None
        check_writable(args.output)
        if args.json:
            check_writable(args.json)
        if args.max_side is not None and args.max_side < 32:
            raise TrtmatteError(f"--max-side must be at least 32, got {args.max_side}")
        model, info = load_model(args.weights, args.variant)
        pre = info.preprocessing if args.max_side is None else dataclasses.replace(info.preprocessing, max_side=args.max_side)
        provenance = info.provenance.get("weights", "unknown provenance")
        opts = ExportOptions(alpha_dtype=args.alpha_dtype, debug_outputs=args.debug_outputs, opset=args.opset,
                             static_shape=shape, simplify=not args.no_simplify, fused_blend=args.fused_blend)
        print(f"exporting {info.variant} ({info.path}, {provenance}) ...", flush=True)
        report = export_onnx(model, info.variant, pre, args.output, opts, info.sha256, provenance)
        size_mb = report.size_bytes / 2**20
        print(f"wrote {report.path}: {size_mb:.1f} MiB, {report.nodes_exported} -> {report.nodes_final} nodes "
              f"after onnxsim, {report.seconds:.1f} s" + (f", weights in {report.external_data}" if report.external_data else ""))
        if report.fused_blend:
            print(f"fused blend: {len(report.fused_blend['replaced'])} nodes -> 1 trtmatte::FusedBlend node "
                  f"(build it with standard TensorRT: trtmatte build ... --plugin build/lib/libtrtmatte_plugins.so)")
        result = {"export": dataclasses.asdict(report)}
        status = 0
        if args.check:
            status, result["parity"] = self._check(model, pre, info, report.path, args.alpha_dtype, shape,
                                                   args.fused_blend)
        if args.json:
            from ..fileio import atomic_output

            with atomic_output(args.json) as tmp:
                tmp.write_text(json.dumps(result, indent=2))
        return status

    @staticmethod
    def _check(model, pre, info, onnx_path, alpha_dtype, shape, fused_blend=False):
        import tempfile

        if not fused_blend:
            return Export._compare(model, pre, info, onnx_path, alpha_dtype, shape)
        # onnxruntime has no FusedBlend kernel: measure the same graph with the node expanded back into
        # the ONNX ops it stands for (the kernel's own math is tested against those ops separately).
        import onnx

        from ..export.fused_blend import expand_fused_blend

        print("note: --fused-blend: parity measured on the graph with FusedBlend expanded back into ONNX ops "
              "(onnxruntime cannot run the custom node)")
        expanded = expand_fused_blend(onnx.load(str(onnx_path)))
        with tempfile.TemporaryDirectory(prefix="trtmatte_check_") as tmp:
            path = f"{tmp}/expanded.onnx"
            onnx.save_model(expanded, path, save_as_external_data=expanded.ByteSize() >= 2**31 - 1)
            return Export._compare(model, pre, info, path, alpha_dtype, shape)

    @staticmethod
    def _compare(model, pre, info, onnx_path, alpha_dtype, shape):
        from ..export.parity import TOLERANCE, compare_sessions, format_table, parity_batches, static_batch
        from ..models.bn_recalibration import sample_photos
        from ..runtime import OrtSession, TorchSession

        photos = dict(zip(("astronaut", "chelsea", "coffee", "rocket"), sample_photos(max_side=1024)))
        batches = static_batch(photos, shape) if shape else parity_batches(photos)
        reference, candidate = TorchSession(model, pre, info.variant), OrtSession(onnx_path)
        print(f"parity: {candidate.info.label} vs {reference.info.label}; weights: "
              f"{info.provenance.get('weights', 'unknown provenance')}")
        stats = compare_sessions(reference, candidate, batches, TOLERANCE[alpha_dtype])
        print(format_table(stats))
        if any(s.alpha_std < 0.1 for s in stats):
            print("note: reference alpha is nearly constant (std < 0.1) on some inputs; parity on such weights "
                  "says little (use trained weights or `trtmatte init-weights --recalibrate-bn`)")
        failed = [s for s in stats if not s.ok]
        if failed:
            print(f"trtmatte: parity check failed on {len(failed)} of {len(stats)} inputs "
                  f"(max |Δα| {max(s.max_abs for s in failed):.2e} > {failed[0].tolerance:.2e})")
        return (1 if failed else 0), [s.to_dict() for s in stats]
