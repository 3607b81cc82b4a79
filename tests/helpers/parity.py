"""Checks on an `export --check` report shared by the parity tests of every model family."""
from __future__ import annotations

from trtmatte.export.parity import TOLERANCE


def check_parity_report(report: dict, dtype: str) -> list[dict]:
    """Every default parity input is there, within the contract's tolerance for ``dtype``, on an
    alpha that really varies (so the comparison is meaningful); returns the rows."""
    stats = report["parity"]
    names = [s["name"] for s in stats]
    for size in ("320x320", "497x800", "1024x640", "batch 2"):
        assert any(size in n for n in names), (size, names)
    for s in stats:
        assert s["max_abs"] <= TOLERANCE[dtype] * (1 + 1e-4), s
        assert s["alpha_std"] > 0.1, s
        assert s["ok"]
    return stats
