"""The session interface shared by all backends.

A session takes a batch of raw RGB pixels, uint8 ``[N, H, W, 3]``, and returns float alpha
``[N, H, W]`` in [0, 1]. A session of a trimap-based model (``needs_trimap``, known from the graph's
inputs, the engine's I/O tensors or the model) also takes a uint8 trimap ``[N, H, W]``; every
session gives the same one-line errors for a missing trimap, a trimap of another size, or a trimap
given to a trimap-free model. ``info`` labels every figure a session produces (backend, precision,
device), so a benchmark can never call an onnxruntime number a TensorRT number.

The inputs are checked once, here, in the public entry points (``run``, ``run_raw``, and ``submit``
for sessions that keep calls in flight); each backend implements the unchecked part
(``run_impl``, ``run_raw_impl``, ``submit_impl``), as Polygraphy's runners do with ``infer`` and
``infer_impl``. The C++ ``Matter`` checks its inputs once in the same way.
"""
from __future__ import annotations

import abc
import functools
import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import TrtmatteError
from ..trimap import check_trimap, refuse_trimap


# Python's words were aligned with the C++ Options (cpp/include/trtmatte/matter.hpp) after 0.1.0; the
# old keywords keep working, with a DeprecationWarning, for one release.
RENAMED_KEYWORDS = {"slots": "contexts", "graphs": "cuda_graphs"}


def _warn_renamed(old: str, new: str, stacklevel: int) -> None:
    warnings.warn(f"'{old}' is deprecated, use '{new}' (same meaning, the C++ API's name)", DeprecationWarning,
                  stacklevel=stacklevel)


def renamed_keywords(fn):
    """Accept the deprecated keyword names of RENAMED_KEYWORDS for ``fn``, with a DeprecationWarning."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        for old, new in RENAMED_KEYWORDS.items():
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{fn.__qualname__}() got both '{old}' and '{new}': pass '{new}' only")
                _warn_renamed(old, new, stacklevel=3)
                kwargs[new] = kwargs.pop(old)
        return fn(*args, **kwargs)
    return wrapper


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
    has_raw_outputs: bool = False  # run_raw gives every graph output (F, B, ... with debug outputs)

    def run(self, images: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        """uint8 [N, H, W, 3] RGB (and uint8 [N, H, W] trimap for trimap models) -> float32 alpha [N, H, W].
        A single image [H, W, 3] is a batch of one."""
        return self.run_impl(*self.check_inputs(images, trimap))

    @abc.abstractmethod
    def run_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        """run() on inputs already checked: images [N, H, W, 3], trimap [N, H, W] or None."""

    def run_raw(self, images: np.ndarray, trimap: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every output of the graph as it produces it (alpha may be uint8 x255); sessions with
        ``has_raw_outputs`` only."""
        return self.run_raw_impl(*self.check_inputs(images, trimap))

    def run_raw_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> dict[str, np.ndarray]:
        raise TrtmatteError(f"{type(self).__name__} has no raw outputs")

    def run_timed(self, images: np.ndarray, trimap: np.ndarray | None = None) -> tuple[np.ndarray, Timing]:
        """run() and how long it took; GPU sessions override this with the H2D/compute/D2H split."""
        start = time.perf_counter()
        alpha = self.run(images, trimap)
        return alpha, Timing(time.perf_counter() - start)

    def close(self) -> None:
        """Free what the session holds (GPU sessions: buffers, streams). Safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_inputs(self, images: np.ndarray, trimap: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """(images [N, H, W, 3], trimap [N, H, W] or None), or the one-line error for what is wrong.
        Called by the public entry points only: backends never call it themselves."""
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


class InFlightSession(MattingSession):
    """A session that keeps several calls in flight, one per execution context (``contexts``):
    ``submit`` enqueues a batch on a context and returns early, ``collect`` waits for it. The
    pipelined executor (:mod:`.pipelined`) overlaps the transfers of one batch with the compute of
    another through them. ``submit`` checks the inputs once; backends implement ``submit_impl``."""

    @property
    @abc.abstractmethod
    def contexts(self) -> int:
        """How many calls can be in flight at once."""

    @property
    def slots(self) -> int:
        """Deprecated name of ``contexts``."""
        _warn_renamed("slots", "contexts", stacklevel=3)
        return self.contexts

    def submit(self, context: int, batch) -> None:
        """Enqueue one batch (images, or a Batch with its trimap) on an execution context."""
        batch = Batch.of(batch)
        self.submit_impl(context, *self.check_inputs(batch.images, batch.trimap))

    @abc.abstractmethod
    def submit_impl(self, context: int, images: np.ndarray, trimap: np.ndarray | None) -> None:
        """submit() on inputs already checked."""

    @abc.abstractmethod
    def collect(self, context: int) -> np.ndarray:
        """Wait for a context's call and return its float alpha."""

    def run_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        self.submit_impl(0, images, trimap)
        return self.collect(0)
