"""Image sizes written as text (``800x800``, ``2x800x800``, ``1,4,8``): one parser, one error type.

The CLI hands these functions to argparse as ``type=`` converters; a :class:`ShapeError` is a
:class:`TrtmatteError`, so a bad size is a one-line error (exit 1) that names the option.
"""
from __future__ import annotations

import re
from typing import Callable

from .errors import TrtmatteError

_DIMS = re.compile(r"-?\d+(?:x-?\d+)*")


class ShapeError(TrtmatteError):
    """A size given as text is malformed or not positive."""


def _parse(text: str, what: str, ranks: tuple[int, ...]) -> tuple[int, ...]:
    cleaned = text.strip().lower()
    forms = " or ".join({2: "HxW", 3: "NxHxW"}[r] for r in ranks)
    if not _DIMS.fullmatch(cleaned) or cleaned.count("x") + 1 not in ranks:
        raise ShapeError(f"{what} must look like {forms} (e.g. 800x800), got {text!r}")
    dims = tuple(int(v) for v in cleaned.split("x"))
    if min(dims) < 1:
        raise ShapeError(f"{what} must be positive, got {text}")
    return dims


def parse_hw(text: str, what: str = "the size") -> tuple[int, int]:
    """'HxW' -> (height, width), both positive."""
    return _parse(text, what, (2,))  # type: ignore[return-value]


def parse_nhw(text: str, what: str = "the shape") -> tuple[int, int, int]:
    """'HxW' (batch 1) or 'NxHxW' -> (N, H, W), every number positive."""
    dims = _parse(text, what, (2, 3))
    return dims if len(dims) == 3 else (1, *dims)  # type: ignore[return-value]


def parse_batch_range(text: str, what: str = "--batch") -> tuple[int, int, int]:
    """'N' or 'MIN,OPT,MAX' -> (min, opt, max) batch sizes."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        raise ShapeError(f"{what} is N or MIN,OPT,MAX, got {text!r}")
    return tuple(values)  # type: ignore[return-value]


def argtype(parse: Callable[[str, str], tuple], what: str) -> Callable[[str], tuple]:
    """An argparse ``type=`` for option ``what`` (errors then name the option)."""
    def convert(text: str) -> tuple:
        return parse(text, what)
    convert.__name__ = parse.__name__  # argparse names the converter in its own messages
    return convert


MIN_MAX_SIDE = 32  # the encoder's stride: a smaller working side leaves nothing to decode


def check_max_side(max_side: int | None) -> int | None:
    """A cap on the longer working side (``--max-side``), or None for the variant's default."""
    if max_side is not None and max_side < MIN_MAX_SIDE:
        raise ShapeError(f"--max-side must be at least {MIN_MAX_SIDE}, got {max_side}")
    return max_side
