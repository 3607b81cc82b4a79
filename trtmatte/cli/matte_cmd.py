from __future__ import annotations

import argparse
import time
from pathlib import Path

from .base import Command


class Matte(Command):
    """Predict alpha mattes for images and save them as 8-bit PNGs.

    One image: -o is the output file. Several: -o is a directory (alpha saved as NAME.png).
    Example: trtmatte matte photo.jpg -o photo_alpha.png --weights late_fusion.safetensors
    """

    name = "matte"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("images", nargs="+", help="input images (RGB; alpha channels are ignored)")
        parser.add_argument("-o", "--output", required=True, help="output PNG, or a directory for several images")
        parser.add_argument("--weights", required=True, help="checkpoint (.safetensors from trtmatte, or Keras .h5)")
        parser.add_argument("--variant", help="registry variant, when the weights file does not say")
        parser.add_argument("--max-side", type=int, help="cap on the longer working side (default: the variant's, 800)")
        parser.add_argument("--backend", default="torch", choices=["torch"], help="inference backend")
        parser.add_argument("--device", default="cpu", help="torch device: cpu or cuda")

    def run(self, args: argparse.Namespace) -> int:
        import dataclasses

        from ..checkpoints.native import load_model
        from ..errors import TrtmatteError
        from ..imageio import read_rgb, write_alpha
        from ..runtime import TorchSession

        out = Path(args.output)
        if len(args.images) > 1 and not out.is_dir():
            raise TrtmatteError(f"{len(args.images)} images need -o to be an existing directory, got {out}")
        if args.max_side is not None and args.max_side < 32:
            raise TrtmatteError(f"--max-side must be at least 32, got {args.max_side}")
        images = [read_rgb(p) for p in args.images]  # fail on a bad input before loading weights
        model, info = load_model(args.weights, args.variant)
        pre = info.preprocessing
        if args.max_side:
            pre = dataclasses.replace(pre, max_side=args.max_side)
        session = TorchSession(model, pre, info.variant, args.device)
        print(f"backend: {session.info.label}; weights: {info.path} ({info.variant})")
        for path, image in zip(args.images, images):
            start = time.perf_counter()
            alpha = session.run(image)[0]
            elapsed = time.perf_counter() - start
            target = out / (Path(path).stem + ".png") if out.is_dir() else out
            write_alpha(target, alpha)
            print(f"{path} ({image.shape[1]}x{image.shape[0]}) -> {target} in {elapsed:.2f} s")
        return 0
