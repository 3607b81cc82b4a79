"""The session interface shared by all backends.

A session takes a batch of raw RGB pixels, uint8 ``[N, H, W, 3]``, and returns float alpha
``[N, H, W]`` in [0, 1]. ``info`` labels every figure a session produces (backend, precision,
device), so a benchmark can never call an onnxruntime number a TensorRT number.
"""
from __future__ import annotations

import abc
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


class MattingSession(abc.ABC):
    info: SessionInfo

    @abc.abstractmethod
    def run(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W, 3] RGB -> float32 alpha [N, H, W]."""

    @staticmethod
    def check_images(images: np.ndarray) -> np.ndarray:
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
            raise TrtmatteError(f"images must be a uint8 NumPy array, got {getattr(images, 'dtype', type(images))}")
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[-1] != 3 or 0 in images.shape:
            raise TrtmatteError(f"images must be [N, H, W, 3] RGB, got shape {list(images.shape)}")
        return images
