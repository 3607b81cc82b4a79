from __future__ import annotations

import argparse

from ..shapes import argtype, check_max_side, parse_nhw
from .base import Command
from .model_flags import add_auto_trimap_arguments, auto_trimap_options


class Export(Command):
    """Export the whole pipeline (pre-processing, network, blend, post-processing) to ONNX.

    The graph takes uint8 [N, H, W, 3] RGB pixels named `image` (any N, H, W) and returns
    `alpha` [N, H, W] (uint8 x255 by default). Trimap models (adamatting) also take `trimap`
    uint8 [N, H, W] (0 / 128 / 255) and return `trimap_adapted`; with --trimap-from LF.safetensors
    the graph derives the trimap from Late Fusion inside and takes the image only. Simplified with
    onnx-simplifier, checked with onnx.checker. --check compares onnxruntime against PyTorch on real
    photos. Examples:
      trtmatte export --weights late_fusion.safetensors -o late_fusion.onnx --check
      trtmatte export --weights ada.safetensors -o ada.onnx --check
      trtmatte export --weights ada.safetensors --trimap-from lf.safetensors -o lf_ada.onnx
    """

    name = "export"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--weights", required=True, help="checkpoint to export (see `trtmatte init-weights`)")
        parser.add_argument("--variant", help="registry variant, when the weights file does not say")
        parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
        parser.add_argument("--alpha-dtype", default="uint8", choices=["uint8", "float16", "float32"],
                            help="dtype of the alpha output (default uint8: 0..255)")
        parser.add_argument("--debug-outputs", action="store_true",
                            help="also output the debug maps (Late Fusion: fg, bg and beta; AdaMatting: alpha_decoder)")
        parser.add_argument("--max-side", type=int, help="cap on the longer working side (default: the variant's)")
        parser.add_argument("--shape", type=argtype(parse_nhw, "--shape"), help="static input shape HxW or NxHxW instead of dynamic N, H, W")
        parser.add_argument("--opset", type=int, default=18, help="ONNX opset (>= 17; default 18)")
        parser.add_argument("--no-simplify", action="store_true", help="skip onnx-simplifier")
        parser.add_argument("--fused-blend", action="store_true",
                            help="replace the sigmoids + blend with one trtmatte::FusedBlend node (TensorRT plugin: "
                                 "build with standard TensorRT and --plugin; TensorRT-RTX and onnxruntime cannot run it)")
        parser.add_argument("--check", action="store_true",
                            help="measure onnxruntime vs PyTorch on real photos; exit 1 if over tolerance")
        parser.add_argument("--json", metavar="PATH", help="write the export report (and parity stats) as JSON")
        trimap = parser.add_argument_group("trimap models")
        trimap.add_argument("--no-enforce-trimap", action="store_true",
                            help="do not impose the trimap's known regions on alpha (default: alpha = 1 where the "
                                 "trimap is 255 and 0 where it is 0, inside the graph)")
        trimap.add_argument("--trimap-from", metavar="LF_WEIGHTS",
                            help="a Late Fusion checkpoint: one graph that derives the trimap from its F and B and "
                                 "feeds the trimap model (input: the image only)")
        add_auto_trimap_arguments(trimap)

    def run(self, args: argparse.Namespace) -> int:
        import dataclasses
        import json

        from ..checkpoints.native import load_model
        from ..export import ExportOptions, export_onnx
        from ..fileio import check_writable

        shape = args.shape
        check_writable(args.output)
        if args.json:
            check_writable(args.json)
        check_max_side(args.max_side)
        model, info = load_model(args.weights, args.variant)
        pre = info.preprocessing if args.max_side is None else dataclasses.replace(info.preprocessing, max_side=args.max_side)
        provenance = info.provenance.get("weights", "unknown provenance")
        opts = ExportOptions(alpha_dtype=args.alpha_dtype, debug_outputs=args.debug_outputs, opset=args.opset,
                             static_shape=shape, simplify=not args.no_simplify, fused_blend=args.fused_blend,
                             enforce_trimap=not args.no_enforce_trimap)
        network, extra = model, None
        if args.trimap_from:
            from ..export.auto_trimap import auto_trimap_pipeline

            # the options first: a bad --trimap-confidence fails before the second checkpoint loads
            network, extra = auto_trimap_pipeline(model, info, pre, args.trimap_from, auto_trimap_options(args),
                                                  args.max_side, not args.no_enforce_trimap)
        print(f"exporting {info.variant} ({info.path}, {provenance}) ...", flush=True)
        report = export_onnx(network, info.variant, pre, args.output, opts, info.sha256, provenance, extra)
        size_mb = report.size_bytes / 2**20
        print(f"wrote {report.path}: {size_mb:.1f} MiB, {report.nodes_exported} -> {report.nodes_final} nodes "
              f"after onnxsim, {report.seconds:.1f} s" + (f", weights in {report.external_data}" if report.external_data else ""))
        if report.fused_blend:
            print(f"fused blend: {len(report.fused_blend['replaced'])} nodes -> 1 trtmatte::FusedBlend node "
                  f"(build it with standard TensorRT: trtmatte build ... --plugin build/lib/libtrtmatte_plugins.so)")
        result = {"export": dataclasses.asdict(report)}
        status = 0
        if args.check:
            from ..export.parity import check_export

            stats = check_export(network, pre, info.variant, report.path, args.alpha_dtype, shape, args.fused_blend,
                                 weights_note=provenance, enforce_trimap=opts.enforce_trimap)
            result["parity"] = [s.to_dict() for s in stats]
            status = 0 if all(s.ok for s in stats) else 1
        if args.json:
            from ..fileio import atomic_output

            with atomic_output(args.json) as tmp:
                tmp.write_text(json.dumps(result, indent=2))
        return status
