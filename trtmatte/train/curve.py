"""The loss-curve PNG: total loss per logged step, one colour a stage, log scale (matplotlib,
imported lazily: it is only needed when a run finishes)."""
from __future__ import annotations

from pathlib import Path

from .._lazy import require
from ..fileio import atomic_output

COLOURS = {"segmentation": "tab:blue", "fusion": "tab:orange", "joint": "tab:green", "multitask": "tab:purple"}


def plot_loss_curve(history: list[dict], path: str | Path, title: str = "") -> Path | None:
    """Write the curve of ``history`` rows ({step, stage, loss, ...}) to ``path``; None if empty."""
    if not history:
        return None
    matplotlib = require("matplotlib", "the loss-curve PNG (pip install 'trtmatte[train]')")
    matplotlib.use("Agg")  # no display on training machines
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for stage in dict.fromkeys(r["stage"] for r in history):
            rows = [r for r in history if r["stage"] == stage]
            colour = COLOURS.get(stage, "tab:red")
            steps = [r["step"] for r in rows]
            ax.plot(steps, [r["loss"] for r in rows], color=colour, alpha=0.35, linewidth=0.8)
            ax.plot(steps, _smooth([r["loss"] for r in rows]), color=colour, linewidth=1.8, label=f"{stage} (smoothed)")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (stage's own: L_F+L_B, L_u, L_J; AdaMatting's weighted multi-task loss)")
        # learned task weights add log(sigma) terms, which can take the total below 0
        ax.set_yscale("log" if all(r["loss"] > 0 for r in history) else "linear")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
        path = Path(path)
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return path


def _smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average, bias-corrected so the first points are not pulled to 0."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = weight * avg + (1 - weight) * v
        out.append(avg / (1 - weight ** i))
    return out
