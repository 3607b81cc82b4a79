"""The session interface shared by all backends.

A session takes a batch of raw RGB pixels, uint8 ``[N, H, W, 3]``, and returns float alpha
``[N, H, W]`` in [0, 1]. ``info`` labels every figure a session produces (backend, precision,
device), so a benchmark can never call an onnxruntime number a TensorRT number.
"""
from __future__ import annotations

import abc
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import TrtmatteError


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


class MattingSession(abc.ABC):
    info: SessionInfo

    @abc.abstractmethod
    def run(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W, 3] RGB -> float32 alpha [N, H, W]."""

    def run_timed(self, images: np.ndarray) -> tuple[np.ndarray, Timing]:
        """run() and how long it took; GPU sessions override this with the H2D/compute/D2H split."""
        start = time.perf_counter()
        alpha = self.run(images)
        return alpha, Timing(time.perf_counter() - start)

    def close(self) -> None:
        """Free what the session holds (GPU sessions: buffers, streams). Safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def check_images(images: np.ndarray) -> np.ndarray:
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise TrtmatteError(f"images must be a uint8 NumPy array, got {getattr(images, 'dtype', type(images))}")
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3 or 0 in images.shape:
            raise TrtmatteError(f"images must be [N, H, W, 3] RGB, got shape {list(images.shape)}")
        return images
