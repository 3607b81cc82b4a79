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
    on a held-out composite set (--eval) and real photos. Calibration streams statistics within
    --max-memory. --quantizer modelopt writes them with NVIDIA ModelOpt instead (both: compared
    in one report). Examples:
      trtmatte quantize m.onnx --precision fp16 -o m.fp16.onnx
      trtmatte quantize m.onnx --precision int8 --calib calib/ -o m.int8.onnx
      trtmatte quantize m.onnx --precision fp16 int8 --method max entropy percentile \\
          --calib calib/ --eval heldout/ --report report.json -o graphs/
      trtmatte quantize m.onnx --precision fp16 int8 --quantizer trtmatte modelopt --calib calib/ \\
          --eval heldout/ --report report.json -o graphs/
    """

    name = "quantize"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model", help="FP32 whole-pipeline graph from `trtmatte export`")
        parser.add_argument("--precision", nargs="+", choices=PRECISIONS, required=True)
        parser.add_argument("-o", "--output", required=True, help="output graph, or a directory for several")
        parser.add_argument("--quantizer", nargs="+", default=["trtmatte"], choices=["trtmatte", "modelopt"],
                            help="who writes the precision: trtmatte's own conversion (default) and/or NVIDIA "
                                 "ModelOpt's ONNX PTQ / AutoCast (pip install -e '.[modelopt]'), on the same graph "
                                 "and images; both compare them in one report")
        parser.add_argument("--modelopt-op-types", nargs="+", default=["Conv"], metavar="OP",
                            help="with --quantizer modelopt: op types whose inputs get Q/DQ (default Conv, like "
                                 "trtmatte's placement; 'auto': ModelOpt's own rules, which also quantize pools, "
                                 "Concat, Add and Resize)")
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
        calib.add_argument("--max-memory", type=float, default=2.5, metavar="GB",
                           help="resident memory calibration plans for (default 2.5): the activations of each "
                                "image are streamed into statistics, in several passes when they do not fit")
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
        from ..quantize.calibration_stats import peak_rss_bytes
        from ..quantize.modelopt_ptq import (MODELOPT_METHODS, convert_fp16_modelopt, import_modelopt,
                                             quantize_int8_modelopt)
        from ..quantize.accuracy import Candidate, format_report, report_on_held_out
        from ..quantize.calibration_data import (calibration_images, check_held_out_dirs, held_out_samples,
                                                 output_paths, takes_trimap)

        quantizers = list(dict.fromkeys(args.quantizer))
        jobs = []
        for quantizer in quantizers:
            jobs += [("fp16", None, quantizer)] if "fp16" in args.precision else []
            if "int8" in args.precision:
                jobs += [("int8", m, quantizer) for m in dict.fromkeys(args.method)]
        jobs = output_paths(jobs, args.model, args.output)
        if "int8" in args.precision and not args.calib:
            raise TrtmatteError("--precision int8 needs --calib DIR (make one with `trtmatte calibset`)")
        if args.max_memory <= 0:
            raise TrtmatteError("--max-memory must be a positive number of GB")
        if "modelopt" in quantizers:  # a missing ModelOpt is refused before minutes of work
            import_modelopt("modelopt.onnx.quantization" if "int8" in args.precision else "modelopt.onnx.autocast")
        if "modelopt" in quantizers and "int8" in args.precision:
            for method in args.method:
                if method not in MODELOPT_METHODS:
                    raise TrtmatteError(f"ModelOpt's INT8 calibration has no {method!r} method: use --method "
                                        f"{' or '.join(MODELOPT_METHODS)} with --quantizer modelopt")
            if args.target != "tensorrt" or args.int8_body == "fp32":
                raise TrtmatteError("--quantizer modelopt writes graphs for TensorRT with a float16 body: "
                                    "drop --target/--int8-body, or use --quantizer trtmatte")
        if args.report:
            check_writable(args.report)
            check_held_out_dirs(args.eval, args.calib)
        for *_, path in jobs:
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
        for precision, method, quantizer, path in jobs:
            modelopt = quantizer == "modelopt"
            if precision == "fp16":
                r = (convert_fp16_modelopt if modelopt else convert_fp16)(args.model, path)
                print(f"fp16 ({quantizer}): {r.fp16_convs} convs in float16, {r.casts_added} casts added, "
                      f"{r.size_bytes / 2**20:.1f} MiB -> {path} ({r.seconds:.1f} s)")
            else:
                if modelopt:
                    op_types = None if args.modelopt_op_types == ["auto"] else args.modelopt_op_types
                    r = quantize_int8_modelopt(args.model, path, calib_images, method=method, exclude=exclude,
                                               calibration_trimaps=calib_trimaps, op_types=op_types)
                else:
                    r = quantize_int8(args.model, path, calib_images, method=method, exclude=exclude,
                                      percentile=args.percentile, target=args.target,
                                      calibration_trimaps=calib_trimaps, body=args.int8_body,
                                      max_memory=args.max_memory * 2**30)
                print(f"int8 ({method}, {quantizer}, for {args.target}): {r.quantized_convs} convs quantized, {len(r.excluded)} kept in "
                      f"{'float16' if r.body == 'fp16' else 'float32'}, "
                      f"calibrated on {r.calibration_images} images {r.image_shape[0]}x{r.image_shape[1]}, "
                      f"{r.size_bytes / 2**20:.1f} MiB -> {path} ({r.seconds:.1f} s; calibration "
                      f"{r.calibration_seconds:.1f} s in {r.calibration_passes} pass(es), peak memory "
                      f"{r.peak_rss_bytes / 2**30:.2f} GB)")
            label = "fp16" if precision == "fp16" else f"int8 ({method})"
            if modelopt:
                label = "fp16 (modelopt)" if precision == "fp16" else f"int8 ({method}, modelopt)"
            candidates.append(Candidate(label, str(path), precision, method if precision == "int8" else None,
                                        quantizer, r.seconds, getattr(r, "peak_rss_bytes", 0) or peak_rss_bytes()))
        if args.report:
            report = report_on_held_out(args.model, candidates, held_out, args.eval_count,
                                        with_photos=not args.no_photos, band=args.band, progress=print)
            with atomic_output(args.report) as tmp:
                tmp.write_text(json.dumps(report, indent=2) + "\n")
            print(format_report(report))
            print(f"report: {args.report}")
        return 0
