from __future__ import annotations

import argparse
import time
from pathlib import Path

from .base import Command
from .model_flags import add_model_arguments, open_matter


class Matte(Command):
    """Predict alpha mattes for images and save them as 8-bit PNGs.

    One image: -o is the output file. Several: -o is a directory (alpha saved as NAME.png).
    Without model flags the bundled demo model runs (see `trtmatte models`).
    Example: trtmatte matte photo.jpg -o photo_alpha.png --onnx late_fusion.onnx
    """

    name = "matte"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("images", nargs="+", help="input images (RGB; alpha channels are ignored)")
        parser.add_argument("-o", "--output", required=True, help="output PNG, or a directory for several images")
        add_model_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        from ..errors import TrtmatteError
        from ..fileio import check_writable
        from ..imageio import read_rgb, write_alpha

        out = Path(args.output)
        if len(args.images) > 1 and not out.is_dir():
            raise TrtmatteError(f"{len(args.images)} images need -o to be an existing directory, got {out}")
        if not out.is_dir():
            check_writable(out)  # before minutes of inference, not after
        images = [read_rgb(p) for p in args.images]  # fail on a bad input before loading weights
        with open_matter(args) as matter:
            print(f"backend: {matter.info.label}")
            if args.backend == "auto":
                print(f"auto: {matter.reason}")
            for path, image in zip(args.images, images):
                start = time.perf_counter()
                alpha = matter(image)[0]
                elapsed = time.perf_counter() - start
                target = out / (Path(path).stem + ".png") if out.is_dir() else out
                write_alpha(target, alpha)
                print(f"{path} ({image.shape[1]}x{image.shape[0]}) -> {target} in {elapsed:.2f} s")
        return 0
