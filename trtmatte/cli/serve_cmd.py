from __future__ import annotations

import argparse

from ..runtime.matter import BACKENDS
from .base import Command
from .model_flags import add_auto_trimap_arguments, add_model_arguments, add_trimap_model_argument


def add_batching_arguments(parser: argparse.ArgumentParser, max_batch_default: int | None) -> None:
    group = parser.add_argument_group("Triton model")
    group.add_argument("--name", default="trtmatte", help="the model's name on the server (default trtmatte)")
    group.add_argument("--max-batch", type=int, default=max_batch_default,
                       help="max_batch_size: images of one size batched together"
                            + (f" (default {max_batch_default})" if max_batch_default else
                               " (default: the engine profile's batch, else 8)"))
    group.add_argument("--preferred-batch", type=int, nargs="+", metavar="N",
                       help="preferred batch sizes (default: half of --max-batch and --max-batch; a plan's opt and max)")
    group.add_argument("--max-queue-delay-us", type=int, default=100,
                       help="how long Triton may hold a request to fill a batch (default 100 us)")
    group.add_argument("--instances", type=int, default=1, help="model instances (default 1)")


def repo_options(args: argparse.Namespace, parameters: dict[str, str] | None = None):
    from ..serve.repository import RepoOptions

    return RepoOptions(args.name, args.max_batch, tuple(args.preferred_batch) if args.preferred_batch else None,
                       args.max_queue_delay_us, args.instances, parameters or {})


class Serve(Command):
    """Serve a model on Triton Inference Server (HTTP/REST, gRPC, Prometheus metrics), dynamic batching.

    The same model flags as `matte` (the bundled model by default). Triton runs the model through
    its Python backend with this Python's trtmatte, so every backend works (TensorRT, onnxruntime,
    PyTorch); input `image` uint8 [H, W, 3], output `alpha` uint8 [H, W] (and `rgba` on request).
    The tritonserver binary comes from --tritonserver, $TRTMATTE_TRITONSERVER, the nvidia-pytriton
    wheel (`pip install --no-deps nvidia-pytriton`) or PATH. See docs/serving.md.
    Example: trtmatte serve
    Example: trtmatte serve --onnx late_fusion.onnx --http-port 9000 --max-batch 4 --instances 2
    """

    name = "serve"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ..serve.service import DEFAULT_MAX_PIXELS

        add_model_arguments(parser)
        trimap = parser.add_argument_group("trimap models")
        trimap.add_argument("--trimap", choices=("auto",),
                            help="auto: derive the trimap with Late Fusion (clients then send images only); "
                                 "without it, clients of a trimap model send the input 'trimap'")
        add_trimap_model_argument(trimap)
        add_auto_trimap_arguments(trimap)
        add_batching_arguments(parser, 8)
        server = parser.add_argument_group("server")
        server.add_argument("--address", default="0.0.0.0", help="address to listen on (default 0.0.0.0: all)")
        server.add_argument("--http-port", type=int, default=8000)
        server.add_argument("--grpc-port", type=int, default=8001)
        server.add_argument("--metrics-port", type=int, default=8002)
        server.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                            help=f"largest H x W a request may have (default {DEFAULT_MAX_PIXELS}, 4096x4096)")
        server.add_argument("--tritonserver", metavar="PATH", help="the tritonserver binary (default: see above)")
        server.add_argument("--startup-timeout", type=float, default=180.0, help="seconds to wait for the model")
        server.add_argument("--log-file", help="keep tritonserver's log here (default: a temporary file, kept on failure)")
        server.add_argument("--verbose", action="store_true", help="tritonserver's verbose log")

    def run(self, args: argparse.Namespace) -> int:
        from ..serve.node import ServeOptions, ServingNode
        from ..serve.repository import ModelSource
        from ..serve.tritonserver import Ports

        matter = {"backend": args.backend, "variant": args.variant, "device": args.device,
                  "precision": args.precision, "trimap": args.trimap, "trimap_model": args.trimap_model,
                  "trimap_confidence": str(args.trimap_confidence), "trimap_dilate": str(args.trimap_dilate)}
        if args.max_side:
            matter["max_side"] = str(args.max_side)
        if args.threads:
            matter["threads"] = str(args.threads)
        options = ServeOptions(ModelSource(args.engine, args.onnx, args.weights),
                               {k: v for k, v in matter.items() if v}, repo_options(args),
                               Ports(args.http_port, args.grpc_port, args.metrics_port, args.address),
                               args.max_pixels, args.tritonserver, args.startup_timeout, args.log_file, args.verbose)
        with ServingNode(options) as node:
            print(node.banner(), flush=True)
            node.wait()
        print("trtmatte serve: stopped", flush=True)
        return 0


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
        from ..serve.repository import ModelSource, build_config, repository_readme, write_repository

        source = ModelSource(args.engine, args.onnx, args.weights)
        if source.flag is None:
            raise TrtmatteError("give the model: --engine PLAN, --onnx MODEL.onnx or --weights CKPT")
        if args.threads is not None and args.threads < 1:
            raise TrtmatteError(f"--threads must be at least 1, not {args.threads}")
        params = {"backend": args.backend, "variant": args.variant or "", "threads": str(args.threads or "")}
        config, files = build_config(source, repo_options(args, params), python=args.python)
        out = write_repository(args.out, config, files, readme=repository_readme(config, files))
        print(f"wrote {out}/{config.name} ({config.kind}, max_batch_size {config.max_batch}, "
              f"{config.instances} {'GPU' if config.gpu else 'CPU'} instance(s)); serve it: see {out}/README.md")
        return 0
