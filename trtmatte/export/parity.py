"""Numerical parity of an exported graph against the PyTorch pipeline (Polygraphy-style stats), and
``export --check``: onnxruntime against PyTorch on real photos, within the contract's tolerance.
Trimap models get a real-looking trimap per photo (its own rough outline with an unknown band:
trtmatte.trimap.from_rough_mask)."""
from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
from PIL import Image

from ..runtime.session import Batch, MattingSession

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


def with_trimaps(session: MattingSession, images: np.ndarray) -> Batch:
    """``images`` as a Batch, with a rough trimap per image when ``session`` needs one."""
    if not getattr(session, "needs_trimap", False):
        return Batch(images)
    from ..trimap import from_rough_mask

    return Batch(images, np.stack([from_rough_mask(image) for image in images]))


def compare_sessions(reference: MattingSession, candidate: MattingSession, batches, tolerance: float) -> list[ParityStats]:
    rows = []
    for name, images in batches:
        batch = with_trimaps(reference, images)
        rows.append(difference_stats(name, batch.call(reference.run), batch.call(candidate.run), tolerance))
    return rows


def format_table(stats: list[ParityStats]) -> str:
    rows = [f"{'input':<34} {'max|Δα|':>10} {'mean':>10} {'p99':>10} {'SAD':>9} {'MSE':>10} {'std α':>6}  result"]
    for s in stats:
        rows.append(f"{s.name:<34} {s.max_abs:>10.2e} {s.mean_abs:>10.2e} {s.p99_abs:>10.2e} {s.sad:>9.4f} "
                    f"{s.mse:>10.2e} {s.alpha_std:>6.3f}  {'ok' if s.ok else 'FAIL'} (≤ {s.tolerance:.2e})")
    return "\n".join(rows)


PARITY_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def check_export(network, preprocessing, variant: str, onnx_path, alpha_dtype: str,
                 shape: tuple[int, int, int] | None = None, fused_blend: bool = False, weights_note: str = "",
                 log: Callable[[str], None] = print, enforce_trimap: bool = True) -> list[ParityStats]:
    """onnxruntime on ``onnx_path`` against the PyTorch pipeline on real photos, one row per input
    (every row's ``ok`` says whether it is within the contract's tolerance for ``alpha_dtype``).
    ``network`` may be a whole pipeline module (the Late Fusion -> AdaMatting one).

    A graph with a FusedBlend node is measured with the node expanded back into the ONNX ops it
    stands for, since onnxruntime has no kernel for it (the kernel's own math is tested against
    those ops separately)."""
    if not fused_blend:
        return _compare(network, preprocessing, variant, onnx_path, alpha_dtype, shape, weights_note, log,
                        enforce_trimap)
    from ..contract.graphio import load_onnx, save_model
    from .blend_rewrite import expand_fused_blend

    log("note: --fused-blend: parity measured on the graph with FusedBlend expanded back into ONNX ops "
        "(onnxruntime cannot run the custom node)")
    expanded = expand_fused_blend(load_onnx(onnx_path, "the parity check"))
    with tempfile.TemporaryDirectory(prefix="trtmatte_check_") as tmp:
        path = f"{tmp}/expanded.onnx"
        save_model(expanded, path)
        return _compare(network, preprocessing, variant, path, alpha_dtype, shape, weights_note, log)


def _compare(network, preprocessing, variant, onnx_path, alpha_dtype, shape, weights_note, log,
             enforce_trimap: bool = True) -> list[ParityStats]:
    from ..data.photos import sample_photos
    from ..runtime import OrtSession
    from ..runtime.torch_session import TorchSession

    photos = dict(zip(PARITY_PHOTOS, sample_photos(max_side=1024)))
    batches = static_batch(photos, shape) if shape else parity_batches(photos)
    pipeline = network if hasattr(network, "input_names") else None
    reference = TorchSession(network, preprocessing, variant, enforce_trimap=enforce_trimap, pipeline=pipeline,
                             fold_batchnorm=False)  # the network exactly as exported
    candidate = OrtSession(onnx_path)
    log(f"parity: {candidate.info.label} vs {reference.info.label}; weights: {weights_note or 'unknown provenance'}")
    stats = compare_sessions(reference, candidate, batches, TOLERANCE[alpha_dtype])
    log(format_table(stats))
    if any(s.alpha_std < 0.1 for s in stats):
        log("note: reference alpha is nearly constant (std < 0.1) on some inputs; parity on such weights "
            "says little (use trained weights or `trtmatte init-weights --recalibrate-bn`)")
    failed = [s for s in stats if not s.ok]
    if failed:
        log(f"trtmatte: parity check failed on {len(failed)} of {len(stats)} inputs "
            f"(max |Δα| {max(s.max_abs for s in failed):.2e} > {failed[0].tolerance:.2e})")
    return stats
