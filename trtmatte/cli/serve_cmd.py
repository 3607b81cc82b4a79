from __future__ import annotations

import argparse

from .base import Command
from .model_flags import add_auto_trimap_arguments, add_model_arguments, add_trimap_model_argument
from .triton_flags import add_batching_arguments, repo_options


class Serve(Command):
    """Serve a model on Triton Inference Server (HTTP/REST, gRPC, Prometheus metrics), dynamic batching.

    The same model flags as `matte` (the bundled model by default). Triton runs the model through
    its Python backend with this Python's trtmatte, so every backend works (TensorRT, onnxruntime,
    PyTorch); input `image` uint8 [H, W, 3], output `alpha` uint8 [H, W] (and `rgba` on request).
    The tritonserver binary comes from --tritonserver, $TRTMATTE_TRITONSERVER, the nvidia-pytriton
    wheel (`pip install --no-deps nvidia-pytriton`) or PATH. See docs/serving.md.
    Example: trtmatte serve
    Example: trtmatte serve --onnx late_fusion.onnx --http-port 9000 --max-batch 4 --instances 2
    Example: trtmatte serve --address 0.0.0.0 --max-queue-size 64   # in a container
    """

    name = "serve"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ..serve.service import DEFAULT_MAX_BATCH_PIXELS, DEFAULT_MAX_PIXELS

        add_model_arguments(parser)
        trimap = parser.add_argument_group("trimap models")
        trimap.add_argument("--trimap", choices=("auto",),
                            help="auto: derive the trimap with Late Fusion (clients then send images only); "
                                 "without it, clients of a trimap model send the input 'trimap'")
        add_trimap_model_argument(trimap)
        add_auto_trimap_arguments(trimap)
        add_batching_arguments(parser, 8)
        server = parser.add_argument_group("server")
        server.add_argument("--address", default="127.0.0.1",
                            help="address to listen on (default 127.0.0.1: this machine only; in a container or "
                                 "to serve the network: 0.0.0.0)")
        server.add_argument("--http-port", type=int, default=8000)
        server.add_argument("--grpc-port", type=int, default=8001)
        server.add_argument("--metrics-port", type=int, default=8002)
        server.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                            help=f"largest H x W a request may have (default {DEFAULT_MAX_PIXELS}, 4096x4096)")
        server.add_argument("--max-batch-pixels", type=int, default=DEFAULT_MAX_BATCH_PIXELS, metavar="N",
                            help=f"pixels per run of the model: a batch Triton hands over is run in parts of at "
                                 f"most N pixels, which bounds its memory (default {DEFAULT_MAX_BATCH_PIXELS}, "
                                 "1024x768; a larger image runs alone)")
        server.add_argument("--repository", metavar="DIR",
                            help="serve a repository written by `trtmatte triton-repo --python` as it is (instead "
                                 "of the model flags)")
        server.add_argument("--tritonserver", metavar="PATH", help="the tritonserver binary (default: see above)")
        server.add_argument("--startup-timeout", type=float, default=180.0, help="seconds to wait for the model")
        server.add_argument("--log-file", help="keep tritonserver's log here (default: a temporary file, kept on failure)")
        server.add_argument("--verbose", action="store_true", help="tritonserver's verbose log")

    def run(self, args: argparse.Namespace) -> int:
        from ..errors import TrtmatteError
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
        if args.repository and (args.engine or args.onnx or args.weights):
            raise TrtmatteError("--repository serves the model in that repository: drop --engine/--onnx/--weights")
        options = ServeOptions(ModelSource(args.engine, args.onnx, args.weights),
                               {k: v for k, v in matter.items() if v}, repo_options(args),
                               Ports(args.http_port, args.grpc_port, args.metrics_port, args.address),
                               args.max_pixels, args.max_batch_pixels, args.tritonserver, args.startup_timeout,
                               args.log_file, args.verbose, args.repository)
        with ServingNode(options) as node:
            print(node.banner(), flush=True)
            node.wait()
        print("trtmatte serve: stopped", flush=True)
        return 0
