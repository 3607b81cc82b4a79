"""The Triton model flags `serve` and `triton-repo` share: name, batching, queueing, instances."""
from __future__ import annotations

import argparse


def add_batching_arguments(parser: argparse.ArgumentParser, max_batch_default: int | None) -> None:
    group = parser.add_argument_group("Triton model")
    group.add_argument("--name", default="trtmatte", help="the model's name on the server (default trtmatte)")
    group.add_argument("--max-batch", type=int, default=max_batch_default,
                       help="max_batch_size: requests Triton hands the model at once"
                            + (f" (default {max_batch_default})" if max_batch_default else
                               " (default: the engine profile's batch, else 8)"))
    group.add_argument("--preferred-batch", type=int, nargs="+", metavar="N",
                       help="preferred batch sizes (default: half of --max-batch and --max-batch; a plan's opt and max)")
    group.add_argument("--max-queue-delay-us", type=int, default=100,
                       help="how long Triton may hold a request to fill a batch (default 100 us)")
    group.add_argument("--max-queue-size", type=int, default=0, metavar="N",
                       help="requests that may wait; more are refused at once with 503 / UNAVAILABLE (default 0: "
                            "no limit)")
    group.add_argument("--queue-timeout-ms", type=float, default=0, metavar="MS",
                       help="a request still waiting after MS is refused with 503 / UNAVAILABLE instead of served "
                            "late (default 0: none; clients may set a shorter timeout per request)")
    group.add_argument("--instances", type=int, default=1, help="model instances (default 1; with --gpus: per GPU)")
    group.add_argument("--gpus", type=int, nargs="+", metavar="ID",
                       help="Python backend: KIND_GPU instances on these GPUs (--instances on each); "
                            "default: CPU instances (a plan's model is always KIND_GPU, on all GPUs unless given)")


def repo_options(args: argparse.Namespace, parameters: dict[str, str] | None = None):
    from ..errors import TrtmatteError
    from ..serve.repository import RepoOptions

    if args.queue_timeout_ms < 0:
        raise TrtmatteError(f"--queue-timeout-ms must be >= 0, got {args.queue_timeout_ms:g}")
    return RepoOptions(args.name, args.max_batch, tuple(args.preferred_batch) if args.preferred_batch else None,
                       args.max_queue_delay_us, args.instances, parameters or {}, tuple(args.gpus or ()),
                       args.max_queue_size, int(args.queue_timeout_ms * 1000))
