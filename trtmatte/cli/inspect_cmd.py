"""`trtmatte inspect`: an engine's layers, precisions and I/O (the work is engine/summary.py)."""
from __future__ import annotations

import argparse

from .base import Command


class Inspect(Command):
    """Show an engine's layers, precisions, tactics, I/O with profile ranges and memory.

    Reads the layer report captured at build time; uses TensorRT's engine inspector instead where a
    GPU and the matching TensorRT can deserialize the plan. Example: trtmatte inspect model.plan
    """

    name = "inspect"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("plan", help="engine built by `trtmatte build`")
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--all", action="store_true", help="list every layer, not only convolutions/GEMMs")

    def run(self, args: argparse.Namespace) -> int:
        import json

        from ..engine.summary import format_summary, summarize

        summary = summarize(args.plan)
        print(json.dumps(summary, indent=1) if args.json else format_summary(summary, args.all))
        return 0
