"""Subcommand base class (Polygraphy style): the docstring is the help text, ``run`` returns
an exit code, and heavy imports happen inside ``run`` so ``--help`` stays fast and works on
machines without the optional stacks."""
from __future__ import annotations

import argparse


class Command:
    name: str = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]


def parse_hw(text: str) -> tuple[int, int]:
    """argparse type for 'HxW' (e.g. 800x800): (height, width), both positive."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes are HEIGHTxWIDTH like 800x800, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return h, w
