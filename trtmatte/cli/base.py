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
