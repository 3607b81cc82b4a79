"""Numerical parity of an exported graph against the PyTorch pipeline (Polygraphy-style stats)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from ..runtime.session import MattingSession

# Goals of the export contract: float alpha within 1e-4 of PyTorch, uint8 alpha within one level.
TOLERANCE = {"float32": 1e-4, "float16": 1e-3, "uint8": 1.0 / 255.0}
DEFAULT_SIZES = ((320, 320), (497, 800), (1024, 640))


@dataclass
class ParityStats:
    name: str
    shape: tuple[int, ...]  # N, H, W
    max_abs: float
    mean_abs: float
    p99_abs: float
    sad: float  # sum |delta alpha| / 1000, like the matting SAD
    mse: float
    alpha_std: float  # spread of the reference alpha: parity on a constant alpha means nothing
    tolerance: float

    @property
    def ok(self) -> bool:
        # a hair of slack on top of the quantum for uint8 (x/255 in float32 is not exact)
        return self.max_abs <= self.tolerance * (1 + 1e-4)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d


def difference_stats(name: str, reference: np.ndarray, candidate: np.ndarray, tolerance: float) -> ParityStats:
    delta = np.abs(reference.astype(np.float64) - candidate.astype(np.float64))
    return ParityStats(name, tuple(reference.shape), float(delta.max()), float(delta.mean()),
                       float(np.percentile(delta, 99)), float(delta.sum() / 1000.0), float((delta**2).mean()),
                       float(reference.std()), tolerance)


def parity_batches(photos: dict[str, np.ndarray], sizes=DEFAULT_SIZES) -> list[tuple[str, np.ndarray]]:
    """Each photo resized to each (H, W), plus one batch of two photos at the first size."""
    out = []
    names = list(photos)
    for i, (h, w) in enumerate(sizes):
        name = names[i % len(names)]
        resized = np.asarray(Image.fromarray(photos[name]).resize((w, h), Image.BILINEAR))
        out.append((f"{name} {h}x{w}", resized[None]))
    if len(names) >= 2:
        h, w = sizes[0]
        pair = [np.asarray(Image.fromarray(photos[n]).resize((w, h), Image.BILINEAR)) for n in names[:2]]
        out.append((f"{names[0]}+{names[1]} batch 2 {h}x{w}", np.stack(pair)))
    return out


def static_batch(photos: dict[str, np.ndarray], shape: tuple[int, int, int]) -> list[tuple[str, np.ndarray]]:
    """One batch of exactly ``shape`` = (N, H, W) for a graph exported with a static shape."""
    n, h, w = shape
    names = [list(photos)[i % len(photos)] for i in range(n)]
    images = [np.asarray(Image.fromarray(photos[name]).resize((w, h), Image.BILINEAR)) for name in names]
    return [(f"{'+'.join(dict.fromkeys(names))} batch {n} {h}x{w}", np.stack(images))]


def compare_sessions(reference: MattingSession, candidate: MattingSession, batches, tolerance: float) -> list[ParityStats]:
    return [difference_stats(name, reference.run(images), candidate.run(images), tolerance)
            for name, images in batches]


def format_table(stats: list[ParityStats]) -> str:
    rows = [f"{'input':<34} {'max|Δα|':>10} {'mean':>10} {'p99':>10} {'SAD':>9} {'MSE':>10} {'std α':>6}  result"]
    for s in stats:
        rows.append(f"{s.name:<34} {s.max_abs:>10.2e} {s.mean_abs:>10.2e} {s.p99_abs:>10.2e} {s.sad:>9.4f} "
                    f"{s.mse:>10.2e} {s.alpha_std:>6.3f}  {'ok' if s.ok else 'FAIL'} (≤ {s.tolerance:.2e})")
    return "\n".join(rows)
