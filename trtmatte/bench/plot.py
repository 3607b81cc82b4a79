"""`trtmatte bench --plot`: latency histogram and per-run timeline against the paper's 0.39 s.

Also usable on a saved result: ``python -m trtmatte.bench.plot result.json out.png [NAME]`` (e.g. for a
JSON written on a GPU machine without matplotlib; NAME picks ``bench[NAME]`` from the GPU script's
results.json).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .._lazy import require
from ..fileio import atomic_output
from .runner import PAPER_SECONDS


def plot_result(result: dict, path: str | Path) -> Path:
    matplotlib = require("matplotlib", "bench --plot; pip install -e '.[bench]'")
    matplotlib.use("Agg")  # files only; never a display
    import matplotlib.pyplot as plt

    per_image_ms = [s / result["input"]["batch"] * 1e3 for s in result["samples_s"]]
    paper_ms = PAPER_SECONDS * 1e3
    fig, (hist, line) = plt.subplots(1, 2, figsize=(12, 4.5))
    hist.hist(per_image_ms, bins=min(40, max(5, len(per_image_ms) // 3)), color="tab:blue")
    hist.set_xlabel("latency per image (ms)")
    hist.set_ylabel("runs")
    hist.set_title("latency histogram")
    line.plot(range(1, len(per_image_ms) + 1), per_image_ms, marker=".", lw=1, label="this run")
    line.axhline(paper_ms, color="tab:red", ls="--", label="paper: 0.39 s per 800x800 image")
    if result["split_s"]:
        line.axhline(result["split_s"]["compute"]["mean"] / result["input"]["batch"] * 1e3, color="tab:green", ls=":",
                     label="mean compute (CUDA events)")
    line.set_yscale("log")
    line.set_xlabel("timed run")
    line.set_ylabel("latency per image (ms, log)")
    line.set_title(f"{result['paper']['speedup']:.1f}x faster than the paper"
                   + ("" if result["paper"]["comparable"] else " (not at 800x800)"))
    line.legend(fontsize=8)
    weights = result.get("weights") or ""
    fig.suptitle(result["label"] + (" [random weights]" if "random" in weights else ""), fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: python -m trtmatte.bench.plot RESULT.json OUT.png [NAME]")
    data = json.loads(Path(sys.argv[1]).read_text())
    print(plot_result(data["bench"][sys.argv[3]] if len(sys.argv) == 4 else data, sys.argv[2]))
