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
    if mismatched:
        k = mismatched[0]
        more = f" (and {len(mismatched) - 1} more)" if len(mismatched) > 1 else ""
        raise TrtmatteError(
            f"{source} does not fit {target}: '{k}' has shape {_shape(got[k])}, expected "
            f"{_shape(expected[k])}{more}{hint}")
    if missing:
        k = missing[0]
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise TrtmatteError(
            f"{source} does not fit {target}: missing '{k}' ({_shape(expected[k])}){more}"
            f" — truncated or for another model?{hint}")
    if unexpected:
        k = unexpected[0]
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise TrtmatteError(f"{source} does not fit {target}: unexpected key '{k}'{more}{hint}")
