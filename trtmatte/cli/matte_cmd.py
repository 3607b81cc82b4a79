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
        parser.add_argument("--weights", help="checkpoint for --backend torch (.safetensors from trtmatte, or Keras .h5; "
                                               "default: the bundled demo model, see `trtmatte models`)")
        parser.add_argument("--onnx", help="exported graph for --backend onnxruntime, or to build/reuse a cached "
                                           "engine for --backend tensorrt")
        parser.add_argument("--engine", help="plan for --backend tensorrt (default: built from --onnx, cached)")
        parser.add_argument("--variant", help="registry variant, when the weights file does not say")
        parser.add_argument("--max-side", type=int, help="cap on the longer working side (default: the variant's, 800)")
        parser.add_argument("--backend", default="torch", choices=["torch", "onnxruntime", "tensorrt", "auto"],
                            help="inference backend (default torch); auto picks the best available "
                                 "(TensorRT > onnxruntime > PyTorch) and says why")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu; auto: the best available)")

    def run(self, args: argparse.Namespace) -> int:
        from ..errors import TrtmatteError
        from ..fileio import check_writable
        from ..imageio import read_rgb, write_alpha

        out = Path(args.output)
        if len(args.images) > 1 and not out.is_dir():
            raise TrtmatteError(f"{len(args.images)} images need -o to be an existing directory, got {out}")
        if not out.is_dir():
            check_writable(out)  # before minutes of inference, not after
        if args.max_side is not None and args.max_side < 32:
            raise TrtmatteError(f"--max-side must be at least 32, got {args.max_side}")
        images = [read_rgb(p) for p in args.images]  # fail on a bad input before loading weights
        session = self._session(args)
        print(f"backend: {session.info.label}")
        if getattr(self, "reason", ""):
            print(f"auto: {self.reason}")
        for path, image in zip(args.images, images):
            start = time.perf_counter()
            alpha = session.run(image)[0]
            elapsed = time.perf_counter() - start
            target = out / (Path(path).stem + ".png") if out.is_dir() else out
            write_alpha(target, alpha)
            print(f"{path} ({image.shape[1]}x{image.shape[0]}) -> {target} in {elapsed:.2f} s")
        return 0

    def _session(self, args):
        import dataclasses

        from ..errors import TrtmatteError

        if args.backend == "auto":
            from ..runtime.matter import Matter

            matter = Matter("auto", onnx=args.onnx, engine=args.engine, weights=args.weights, variant=args.variant,
                            device=args.device, max_side=args.max_side, log=print)
            self.reason = matter.reason
            return matter.session
        if args.backend == "torch":
            from ..checkpoints.native import load_model
            from ..runtime import TorchSession

            if not args.weights:  # the bundled demo model (a one-line error while it is not bundled)
                from ..checkpoints.bundled import default_weights

                args.weights = str(default_weights())
            model, info = load_model(args.weights, args.variant)
            pre = info.preprocessing if not args.max_side else dataclasses.replace(info.preprocessing, max_side=args.max_side)
            print(f"weights: {info.path} ({info.variant}; {info.provenance.get('weights', 'provenance not recorded')})")
            return TorchSession(model, pre, info.variant, args.device or "cpu")
        if args.max_side:
            raise TrtmatteError("--max-side is baked into an exported graph: re-export with `trtmatte export --max-side`")
        if args.backend == "onnxruntime":
            from ..runtime import OrtSession

            if not args.onnx:
                raise TrtmatteError("--backend onnxruntime needs --onnx MODEL.onnx (create it with `trtmatte export`)")
            return OrtSession(args.onnx)
        from ..runtime.tensorrt_session import TensorRTSession

        plan = args.engine
        if not plan:
            if not args.onnx:
                raise TrtmatteError("--backend tensorrt needs --engine PLAN or --onnx MODEL.onnx (built once, then cached)")
            from ..engine.cache import EngineCache

            plan, hit = EngineCache().get_or_build(args.onnx)
            print(f"engine: {plan} ({'cached' if hit else 'built now, cached for next time'})")
        return TensorRTSession(plan)
