"""Latency statistics as benchmark tools report them (trtexec, perf_analyzer): mean and percentiles."""
from __future__ import annotations

from typing import Sequence

import numpy as np

PERCENTILES = (50, 90, 95, 99)


def latency_stats(samples_s: Sequence[float]) -> dict[str, float]:
    """mean, std, min, p50, p90, p95, p99, max of ``samples_s`` (seconds)."""
    if not len(samples_s):
        raise ValueError("no samples")
    x = np.asarray(samples_s, dtype=np.float64)
    out = {"mean": float(x.mean()), "std": float(x.std()), "min": float(x.min())}
    out.update({f"p{p}": float(np.percentile(x, p)) for p in PERCENTILES})
    out["max"] = float(x.max())
    return out
