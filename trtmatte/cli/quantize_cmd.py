from __future__ import annotations

import argparse

from .base import Command

PRECISIONS = ("fp16", "int8")


class Quantize(Command):
    """Convert an exported FP32 graph to FP16 and/or INT8 (Q/DQ), and measure what it costs.

    FP16: the network body in float16, pre/post-processing in float32. INT8: Q/DQ in front of
    every body Conv (per-channel symmetric weights, per-tensor activations) calibrated on a
    composite set from `trtmatte calibset`; the stem, the RGB conv and the logit convs stay in
    higher precision by default. One output: -o is the file. Several (two precisions, or several
    --method values): -o is a directory. --report evaluates every output against the FP32 source
    on a held-out composite set (--eval) and real photos. Examples:
      trtmatte quantize m.onnx --precision fp16 -o m.fp16.onnx
      trtmatte quantize m.onnx --precision int8 --calib calib/ -o m.int8.onnx
      trtmatte quantize m.onnx --precision fp16 int8 --method max entropy percentile \\
          --calib calib/ --eval heldout/ --report report.json -o graphs/
    """

    name = "quantize"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model", help="FP32 whole-pipeline graph from `trtmatte export`")
        parser.add_argument("--precision", nargs="+", choices=PRECISIONS, required=True)
        parser.add_argument("-o", "--output", required=True, help="output graph, or a directory for several")
        calib = parser.add_argument_group("INT8 calibration")
        calib.add_argument("--calib", help="composite set from `trtmatte calibset` (needed for int8)")
        calib.add_argument("--calib-count", type=int, default=64, help="images used (default 64, spread over the set)")
        calib.add_argument("--calib-size", type=int, default=512,
                           help="calibration images are centre-cropped square and resized to this (default 512)")
        calib.add_argument("--method", nargs="+", default=["max"], choices=["max", "entropy", "percentile"],
                           help="activation calibration (default max); several compare them")
        calib.add_argument("--target", default="tensorrt", choices=["tensorrt", "onnxruntime"],
                           help="whose int8 kernels the Q/DQ placement is for (default tensorrt; onnxruntime: "
                                "Conv outputs quantized too, uint8 activations, so its CPU runs QLinearConv)")
        calib.add_argument("--int8-body", choices=["fp16", "fp32"], default=None,
                           help="precision of what is not int8 (excluded convs, BatchNorms, resizes, Q/DQ scales): "
                                "fp16, like trtexec --fp16 --int8 (default for --target tensorrt), or fp32 "
                                "(the only choice for --target onnxruntime)")
        calib.add_argument("--percentile", type=float, default=99.999, help="for --method percentile (default 99.999)")
        calib.add_argument("--exclude", nargs="*", default=None, metavar="ROLE_OR_NODE",
                           help="Convs kept in float: roles stem, logits, image_convs and/or node names "
                                "(default: all three roles; give --exclude with nothing to quantize every Conv)")
        rep = parser.add_argument_group("accuracy report")
        rep.add_argument("--report", metavar="JSON", help="write the accuracy report here (and print its table)")
        rep.add_argument("--eval", help="held-out composite set (not the calibration set) with ground-truth alpha")
        rep.add_argument("--eval-count", type=int, default=16, help="held-out composites used (default 16)")
        rep.add_argument("--band", type=int, default=10,
                         help="trimap band: transition dilated by this many px (default 10); also the unknown band of "
                              "the trimaps a trimap model is calibrated and evaluated with")
        rep.add_argument("--no-photos", action="store_true", help="skip the scikit-image photos in the report")

    def run(self, args: argparse.Namespace) -> int:
        import json

        from ..errors import TrtmatteError
        from ..fileio import atomic_output, check_writable
        from ..quantize import DEFAULT_EXCLUDE, convert_fp16, quantize_int8
        from ..quantize.accuracy import Candidate, format_report, report_on_held_out
        from ..quantize.calibration_data import (calibration_images, check_held_out_dirs, held_out_samples,
                                                 output_paths, takes_trimap)

        jobs = [("fp16", None)] if "fp16" in args.precision else []
        if "int8" in args.precision:
            jobs += [("int8", m) for m in dict.fromkeys(args.method)]
        jobs = output_paths(jobs, args.model, args.output)
        if "int8" in args.precision and not args.calib:
            raise TrtmatteError("--precision int8 needs --calib DIR (make one with `trtmatte calibset`)")
        if args.report:
            check_writable(args.report)
            check_held_out_dirs(args.eval, args.calib)
        for _, _, path in jobs:
            check_writable(path)
        from ..data import read_manifest

        calib_samples = read_manifest(args.calib) if args.calib else None
        # the held-out set is checked before minutes of calibration, not after
        held_out = held_out_samples(args.eval, calib_samples) if args.report else None
        calib_images = calib_trimaps = None
        if calib_samples and "int8" in args.precision:
            # a trimap model is calibrated with trimaps made from the composites' ground truth
            band = args.band if takes_trimap(args.model) else None
            calib = calibration_images(calib_samples, args.calib_count, args.calib_size, band)
            calib_images, calib_trimaps = calib if band is not None else (calib, None)
        exclude = DEFAULT_EXCLUDE if args.exclude is None else tuple(args.exclude)
        candidates = []
        for precision, method, path in jobs:
            if precision == "fp16":
                r = convert_fp16(args.model, path)
                print(f"fp16: {r.fp16_convs} convs in float16, {r.casts_added} casts added, "
                      f"{r.size_bytes / 2**20:.1f} MiB -> {path} ({r.seconds:.1f} s)")
            else:
                r = quantize_int8(args.model, path, calib_images, method=method, exclude=exclude,
                                  percentile=args.percentile, target=args.target, calibration_trimaps=calib_trimaps,
                                  body=args.int8_body)
                print(f"int8 ({method}, for {args.target}): {r.quantized_convs} convs quantized, {len(r.excluded)} kept in "
                      f"{'float16' if r.body == 'fp16' else 'float32'}, "
                      f"calibrated on {r.calibration_images} images {r.image_shape[0]}x{r.image_shape[1]}, "
                      f"{r.size_bytes / 2**20:.1f} MiB -> {path} ({r.seconds:.1f} s)")
            candidates.append(Candidate(precision if precision == "fp16" else f"int8 ({method})", str(path),
                                        precision, method if precision == "int8" else None))
        if args.report:
            report = report_on_held_out(args.model, candidates, held_out, args.eval_count,
                                        with_photos=not args.no_photos, band=args.band, progress=print)
            with atomic_output(args.report) as tmp:
                tmp.write_text(json.dumps(report, indent=2) + "\n")
            print(format_report(report))
            print(f"report: {args.report}")
        return 0
