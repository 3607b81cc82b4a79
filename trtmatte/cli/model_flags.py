"""The model/backend flags every inference command shares (``matte``, ``bench``, and ``serve``):
one definition, one set of defaults, and one way to turn them into a :class:`trtmatte.Matter`."""
from __future__ import annotations

import argparse
from typing import Callable

from ..runtime.matter import BACKENDS, DEVICES, TORCH_PRECISIONS


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and backend")
    group.add_argument("--backend", default="auto", choices=BACKENDS,
                       help="inference backend (default auto: the best available, TensorRT > onnxruntime > "
                            "PyTorch, and it says why)")
    group.add_argument("--onnx", help="exported graph (`trtmatte export`): run by onnxruntime, or built once into "
                                      "a cached engine for --backend tensorrt")
    group.add_argument("--engine", help="TensorRT plan (`trtmatte build`)")
    group.add_argument("--weights", help="checkpoint for the torch backend (.safetensors from trtmatte, or Keras .h5; "
                                         "default: the bundled demo model, see `trtmatte models`)")
    group.add_argument("--variant", help="registry variant, when the weights file does not say")
    group.add_argument("--device", choices=DEVICES, help="default: the best the backend has")
    group.add_argument("--precision", default="fp32", choices=TORCH_PRECISIONS,
                       help="torch only, fp16 on CUDA: the network in float16, BatchNorm folded, output heads in "
                            "float32; fp16-autocast: autocast (the earlier path). Other backends take it from the "
                            "graph or engine")
    group.add_argument("--max-side", type=int,
                       help="torch only: cap on the longer working side (default: the variant's, 800); "
                            "an exported graph has it baked in")
    group.add_argument("--threads", type=int, metavar="N",
                       help="CPU threads of onnxruntime's pool, or PyTorch's (default: the library's, one per core)")


def open_matter(args: argparse.Namespace, log: Callable[[str], None] = print, **options):
    """A Matter from the shared flags; ``options`` are the command's own (contexts, cuda_graphs, ...)."""
    from ..runtime.matter import Matter

    return Matter(args.backend, onnx=args.onnx, engine=args.engine, weights=args.weights, variant=args.variant,
                  device=args.device, precision=args.precision, max_side=args.max_side, threads=args.threads, log=log,
                  **options)


def add_trimap_model_argument(group) -> None:
    """--trimap-model: where --trimap auto takes Late Fusion's F and B from (matte, eval, serve)."""
    group.add_argument("--trimap-model", metavar="LF",
                       help="--trimap auto: the Late Fusion model (a graph exported with --debug-outputs, its "
                            "engine, or a checkpoint; default: the bundled demo checkpoint, through PyTorch)")


def add_auto_trimap_arguments(group) -> None:
    """--trimap-confidence / --trimap-dilate: how a trimap is derived from Late Fusion's F and B."""
    from ..trimap import AutoTrimapOptions

    d = AutoTrimapOptions()
    group.add_argument("--trimap-confidence", type=float, default=d.confidence, metavar="C",
                       help=f"auto trimap: known where F and B agree beyond C (default {d.confidence}: foreground "
                            f"F > C and B < 1 - C, background the reverse)")
    group.add_argument("--trimap-dilate", type=int, default=d.dilation, metavar="PX",
                       help=f"auto trimap: widen the unknown band by PX pixels each way (default {d.dilation})")


def auto_trimap_options(args: argparse.Namespace):
    from ..trimap import AutoTrimapOptions

    options = AutoTrimapOptions(args.trimap_confidence, args.trimap_dilate)
    options.check()
    return options
