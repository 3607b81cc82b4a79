from __future__ import annotations

import argparse

from .base import Command
from .model_flags import (add_auto_trimap_arguments, add_model_arguments, add_trimap_model_argument,
                          auto_trimap_options, open_matter)


def _pixels(text: str) -> int:
    from ..errors import TrtmatteError

    try:
        value = int(float(text))
    except ValueError:
        raise TrtmatteError(f"--max-pixels takes a number of pixels (e.g. 100000000 or 1e8), got {text!r}") from None
    if value < 0:
        raise TrtmatteError(f"--max-pixels must be 0 (no limit) or positive, got {text!r}")
    return value


def _band(text: str) -> int:
    from ..errors import TrtmatteError

    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise TrtmatteError(f"--band takes a non-negative number of pixels, got {text!r}")
    return value


def _auto(text: str) -> str:
    from ..errors import TrtmatteError

    if text != "auto":
        # matte's --trimap takes files; here the dataset's trimaps are a folder of their own
        raise TrtmatteError(f"eval's --trimap takes only 'auto', got {text!r}: give the dataset's trimaps with "
                            "--trimaps DIR")
    return text


class Eval(Command):
    """Matte a dataset and score it against ground truth: SAD, MSE, Grad, Conn per image and on average.

    Files pair by name across the folders, whatever the suffix: IMAGES/a.jpg with ALPHAS/a.png
    (and TRIMAPS/a.png). Ground truth is 8-bit grey (or 16-bit, scaled); trimaps are 0/128/255.
    The region scored is the trimap's unknown pixels (== 128), or without trimaps the ground
    truth's transition (0 < alpha < 1) grown by --band pixels; the full image is scored too.
    SAD, Grad and Conn are divided by 1000 as in DIM's evaluation code (trtmatte/evaluation/metrics.py).
    A missing counterpart or a size mismatch is a one-line error before any inference.
    Trimap models (adamatting) are fed the dataset's trimaps, or with --trimap auto trimaps that
    Late Fusion derives (the dataset's trimaps, if any, then only define the scored region).
    Example: trtmatte eval --images data/images --alphas data/alphas --trimaps data/trimaps --onnx late_fusion.onnx
    Example: trtmatte eval --images imgs --alphas gt --band 25 --backend tensorrt --engine lf_fp16.plan --json eval.json
    Example: trtmatte eval --images imgs --alphas gt --trimaps tri --onnx ada.onnx
    Example: trtmatte eval --images imgs --alphas gt --onnx ada.onnx --trimap auto --trimap-model lf_debug.onnx
    """

    name = "eval"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ..media.image import DEFAULT_MAX_PIXELS

        parser.add_argument("--images", required=True, metavar="DIR", help="input photos")
        parser.add_argument("--alphas", required=True, metavar="DIR", help="ground-truth alpha mattes, same names")
        parser.add_argument("--trimaps", metavar="DIR", help="trimaps (0/128/255), same names: score the unknown region")
        parser.add_argument("--band", type=_band, metavar="K",
                            help="without trimaps: score the transition region grown by K px (default 10)")
        parser.add_argument("--float", dest="quantize", action="store_false",
                            help="score the backend's float alpha (default: the 8-bit alpha `trtmatte matte` saves, "
                                 "as DIM's evaluation reads predictions)")
        parser.add_argument("--max-pixels", type=_pixels, default=DEFAULT_MAX_PIXELS, metavar="N",
                            help=f"refuse larger files (default {DEFAULT_MAX_PIXELS:,}; 0: no limit)")
        parser.add_argument("--json", metavar="PATH", help="write the report (schema trtmatte.eval/1)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        add_model_arguments(parser)
        trimap = parser.add_argument_group("trimap models (adamatting)")
        trimap.add_argument("--trimap", metavar="auto", type=_auto,
                            help="auto: feed the model trimaps derived by Late Fusion instead of the dataset's "
                                 "(without it a trimap model is fed --trimaps DIR)")
        add_trimap_model_argument(trimap)
        add_auto_trimap_arguments(trimap)

    def run(self, args: argparse.Namespace) -> int:
        import json

        from ..errors import TrtmatteError
        from ..evaluation import check_dataset, check_model_trimaps, evaluate_dataset, format_table, pair_dataset
        from ..fileio import atomic_output, check_writable
        if args.trimaps and args.band is not None:
            raise TrtmatteError("give --trimaps or --band, not both (with trimaps the region is their unknown pixels)")
        auto = args.trimap == "auto"
        if args.trimap_model and not auto:
            raise TrtmatteError("--trimap-model is the Late Fusion model of --trimap auto: add --trimap auto")
        auto_options = auto_trimap_options(args) if auto else None
        if args.json:
            check_writable(args.json)  # before the inference, not after
        max_pixels = args.max_pixels or None
        progress = not args.no_progress
        samples = pair_dataset(args.images, args.alphas, args.trimaps)
        band = check_dataset(samples, args.band, max_pixels, progress)  # every header, before loading the model
        with open_matter(args, auto_trimap=auto_options, trimap_model=args.trimap_model) as matter:
            check_model_trimaps(matter, samples)  # a trimap model without trimaps: before any inference
            print(f"backend: {matter.info.label}")
            if args.backend == "auto":
                print(f"auto: {matter.reason}")
            report = evaluate_dataset(matter, samples, band=band, max_pixels=max_pixels, quantize=args.quantize,
                                      progress=progress, check=False)
        settings, counts = report["settings"], report["counts"]
        print(f"{counts['images']} images, region: {settings['region_definition']}; "
              f"prediction: {settings['prediction']}; SAD, Grad, Conn / 1000")
        print("\n".join(format_table(report)))
        if counts["empty_region"]:
            print(f"note: {counts['empty_region']} image(s) have an empty region (MSE n/a; left out of the MSE mean)")
        seconds = report["seconds"]
        print(f"{seconds['total']:.1f} s in all, {seconds['inference']:.1f} s of inference")
        if args.json:
            with atomic_output(args.json) as tmp:
                tmp.write_text(json.dumps(report, indent=2))
            print(f"json: {args.json}")
        return 0
