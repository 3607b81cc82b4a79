"""The session interface shared by all backends.

A session takes a batch of raw RGB pixels, uint8 ``[N, H, W, 3]``, and returns float alpha
``[N, H, W]`` in [0, 1]. A session of a trimap-based model (``needs_trimap``, known from the graph's
inputs, the engine's I/O tensors or the model) also takes a uint8 trimap ``[N, H, W]``; every
session gives the same one-line errors for a missing trimap, a trimap of another size, or a trimap
given to a trimap-free model. ``info`` labels every figure a session produces (backend, precision,
device), so a benchmark can never call an onnxruntime number a TensorRT number.
"""
from __future__ import annotations

import abc
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import TrtmatteError
from ..trimap import check_trimap, refuse_trimap


@dataclass(frozen=True)
class SessionInfo:
    backend: str  # "torch", "onnxruntime", "tensorrt"
    precision: str  # "fp32", "fp16", "int8"
    device: str  # e.g. "cpu (2 cores)", "NVIDIA H100 80GB HBM3"
    variant: str
    backend_version: str

    @property
    def label(self) -> str:
        return f"{self.backend} {self.backend_version} {self.precision} on {self.device}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Timing:
    """Seconds of one call. GPU backends split it (from CUDA events); None where not measured."""

    total_s: float
    h2d_s: float | None = None
    compute_s: float | None = None
    d2h_s: float | None = None


@dataclass(frozen=True)
class Batch:
    """One item of pipelined work (``submit(slot, batch)``): images, and their trimaps for a
    trimap-based model. A plain images array is a Batch without trimap."""

    images: np.ndarray
    trimap: np.ndarray | None = None

    @classmethod
    def of(cls, batch) -> "Batch":
        return batch if isinstance(batch, Batch) else cls(batch)

    def call(self, fn):
        """``fn(images)``, or ``fn(images, trimap)`` when there is a trimap."""
        return fn(self.images) if self.trimap is None else fn(self.images, self.trimap)


class MattingSession(abc.ABC):
    info: SessionInfo
    needs_trimap: bool = False

    @abc.abstractmethod
    def run(self, images: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        """uint8 [N, H, W, 3] RGB (and uint8 [N, H, W] trimap for trimap models) -> float32 alpha [N, H, W]."""

    def run_timed(self, images: np.ndarray, trimap: np.ndarray | None = None) -> tuple[np.ndarray, Timing]:
        """run() and how long it took; GPU sessions override this with the H2D/compute/D2H split."""
        start = time.perf_counter()
        alpha = Batch(images, trimap).call(self.run)
        return alpha, Timing(time.perf_counter() - start)

    def close(self) -> None:
        """Free what the session holds (GPU sessions: buffers, streams). Safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_inputs(self, images: np.ndarray, trimap: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(images [N, H, W, 3], trimap [N, H, W] or None), or the one-line error for what is wrong."""
        images = self.check_images(images)
        model = f"the {self.info.variant} model" if getattr(self, "info", None) else "this model"
        if not self.needs_trimap:
            refuse_trimap(trimap, model)
            return images, None
        return images, check_trimap(trimap, images, model)

    @staticmethod
    def check_images(images: np.ndarray) -> np.ndarray:
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise TrtmatteError(f"images must be a uint8 NumPy array, got {getattr(images, 'dtype', type(images))}")
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3 or 0 in images.shape:
            raise TrtmatteError(f"images must be [N, H, W, 3] RGB, got shape {list(images.shape)}")
        return images
