"""`trtmatte` entry point: dispatches to one Command class per subcommand."""
from __future__ import annotations

import argparse
import sys

from .._version import __version__
from .._lazy import INSTALL_HINTS
from ..errors import TrtmatteError
from .base import Command
from .bench_cmd import Bench
from .build_cmd import Build
from .calibset_cmd import Calibset
from .convert_weights_cmd import ConvertWeights
from .eval_cmd import Eval
from .export_cmd import Export
from .init_weights_cmd import InitWeights
from .inspect_cmd import Inspect
from .matte_cmd import Matte
from .models_cmd import Models
from .quantize_cmd import Quantize
from .serve_cmd import Serve
from .train_cmd import Train
from .triton_repo_cmd import TritonRepo

COMMANDS: tuple[type[Command], ...] = (Matte, Eval, Export, Calibset, Quantize, Build, Inspect, Models, InitWeights,
                                      ConvertWeights, Bench, Train, Serve, TritonRepo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trtmatte", description="Deploy deep image matting models fast.")
    parser.add_argument("--version", action="version", version=f"trtmatte {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cls in COMMANDS:
        cmd = cls()
        p = sub.add_parser(cmd.name, help=cls.summary(), description=cls.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_arguments(p)
        p.set_defaults(_command=cmd)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = None
    try:
        # argparse converters (sizes, shapes) raise TrtmatteError: one line, exit 1, like run()'s errors
        args = parser.parse_args(argv)
        if not getattr(args, "_command", None):
            parser.print_help()
            return 1
        return args._command.run(args)
    except TrtmatteError as exc:
        print(f"trtmatte: error: {exc}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        # An optional package the command needs (PyTorch for `export`, ...) is not in this install.
        top = (exc.name or "").split(".")[0]
        if top not in INSTALL_HINTS:
            raise
        command = getattr(args, "_command", None)
        needed = f" (needed for `trtmatte {command.name}`)" if command else ""
        print(f"trtmatte: error: {top} is not installed{needed}: {INSTALL_HINTS[top]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("trtmatte: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
