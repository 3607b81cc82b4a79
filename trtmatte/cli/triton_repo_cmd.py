from __future__ import annotations

import argparse

from ..runtime.matter import BACKENDS
from .base import Command
from .triton_flags import add_batching_arguments, repo_options


class TritonRepo(Command):
    """Write a Triton model repository: tensorrt_plan (GPU nodes), onnxruntime_onnx (CPU nodes) or Python backend.

    --engine PLAN writes a tensorrt_plan model (plugin library copied beside it, max_batch_size and
    preferred sizes from the engine profile); --onnx MODEL an onnxruntime_onnx model; --weights or
    --python a Python-backend model running trtmatte's Matter (trtmatte must be installed in the
    server's Python). The exported graph holds pre- and post-processing: no ensemble needed.
    Example: trtmatte triton-repo models --engine late_fusion.plan
    Example: trtmatte triton-repo models --onnx late_fusion.onnx --instances 2
    """

    name = "triton-repo"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("out", metavar="OUT", help="the repository folder to create (new or empty)")
        source = parser.add_argument_group("model (one)")
        source.add_argument("--engine", help="TensorRT plan (`trtmatte build`, standard TensorRT): tensorrt_plan")
        source.add_argument("--onnx", help="exported graph (`trtmatte export`): onnxruntime_onnx")
        source.add_argument("--weights", help="trtmatte checkpoint: Python backend (PyTorch)")
        source.add_argument("--python", action="store_true",
                            help="wrap the model in trtmatte's Python-backend model instead (any backend)")
        source.add_argument("--backend", default="auto", choices=BACKENDS, help="with the Python backend: trtmatte's --backend")
        source.add_argument("--variant", help="with the Python backend and --weights: the registry variant")
        source.add_argument("--threads", type=int, metavar="N",
                            help="CPU threads per instance (onnxruntime_onnx: intra_op_thread_count; Python backend: "
                                 "trtmatte's --threads; default there: the cores shared out between instances)")
        add_batching_arguments(parser, None)

    def run(self, args: argparse.Namespace) -> int:
        from ..errors import TrtmatteError
        from ..fileio import check_new_folder
        from ..serve.repository import ModelSource, build_config, repository_readme, write_repository

        source = ModelSource(args.engine, args.onnx, args.weights)
        if source.flag is None:
            raise TrtmatteError("give the model: --engine PLAN, --onnx MODEL.onnx or --weights CKPT")
        if args.threads is not None and args.threads < 1:
            raise TrtmatteError(f"--threads must be at least 1, not {args.threads}")
        params = {"backend": args.backend, "variant": args.variant or "", "threads": str(args.threads or "")}
        options = repo_options(args, params)
        check_new_folder(args.out, "choose a new OUT", noun="folder")  # before any model file is read
        config, files = build_config(source, options, python=args.python)
        out = write_repository(args.out, config, files, readme=repository_readme(config, files))
        print(f"wrote {out}/{config.name} ({config.kind}, max_batch_size {config.max_batch}, "
              f"{config.instances} {'GPU' if config.gpu else 'CPU'} instance(s)); serve it: see {out}/README.md")
        return 0
