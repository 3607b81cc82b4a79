"""Strict state_dict checking with one-line, actionable errors."""
from __future__ import annotations

from typing import Mapping

import torch

from ..errors import TrtmatteError


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def check_state_dict(expected: Mapping[str, torch.Tensor], got: Mapping[str, torch.Tensor],
                     source: str, target: str, fix: str = "") -> None:
    """Raise TrtmatteError naming the first missing, unexpected or mis-shaped key.

    ``source`` names the checkpoint (a path), ``target`` what it should fit (a variant name).
    """
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    mismatched = [k for k in expected if k in got and tuple(got[k].shape) != tuple(expected[k].shape)]
    hint = f"; {fix}" if fix else ""
    # Mis-shaped first: it says the most about *which* model the file is for.
    problems = (
        (mismatched, lambda k: f"'{k}' has shape {_shape(got[k])}, expected {_shape(expected[k])}", ""),
        (missing, lambda k: f"missing '{k}' ({_shape(expected[k])})", " — truncated or for another model?"),
        (unexpected, lambda k: f"unexpected key '{k}'", ""),
    )
    for keys, describe, suffix in problems:
        if keys:
            more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
            raise TrtmatteError(f"{source} does not fit {target}: {describe(keys[0])}{more}{suffix}{hint}")
