"""CUDA through NVIDIA's cuda-python (``cuda.bindings.runtime``): one checked-call helper and
owning objects for pinned host buffers, device buffers, streams, events and CUDA graphs.

Every object frees what it owns in ``close()`` (also a context manager, and ``__del__`` as a
safety net), so a session that allocates once can hand back views into its buffers for its whole
life. :class:`CudaRuntime` is the seam the rest of trtmatte talks to; tests replace it with a
fake that counts allocations (tests/helpers/fake_cuda.py), which is how "no allocation per call" is
checked on a machine without a GPU.

cuda-python is imported only when a :class:`CudaRuntime` is created (``pip install -e '.[gpu]'``).
"""
from __future__ import annotations

import contextlib
import ctypes
from typing import Any, Iterator

import numpy as np

from .._lazy import require
from ..errors import TrtmatteError

# Errors that mean "no usable GPU here" rather than a bug: reported as one line with the fix.
_NO_GPU_ERRORS = {
    "cudaErrorNoDevice": "no CUDA GPU found",
    "cudaErrorInsufficientDriver": "no CUDA driver (or one too old for this cuda-python) found",
    "cudaErrorNotPermitted": "CUDA is not permitted here",
    "cudaErrorDevicesUnavailable": "every CUDA GPU is busy or unavailable",
}


class CudaError(TrtmatteError):
    """A CUDA runtime call failed; the message starts with the CUDA error name."""

    def __init__(self, message: str, error_name: str = ""):
        super().__init__(message)
        self.error_name = error_name


def _load_cudart() -> Any:
    return require("cuda.bindings.runtime", "the pinned-memory CUDA runtime; pip install -e '.[gpu]'")


def cuda_call(result: Any, what: str = "CUDA call", cudart: Any = None) -> Any:
    """Check a cuda-python result tuple ``(err, *values)``; return the values (one, a tuple, or None).

    Raises :class:`CudaError` named after the error (``cudaErrorMemoryAllocation: ...``); the
    "no GPU / no driver" family becomes one line saying which backend to use instead.
    """
    if not isinstance(result, tuple):  # a few calls return the error alone
        result = (result,)
    err, values = result[0], result[1:]
    code = int(getattr(err, "value", err))
    if code != 0:
        name = getattr(err, "name", None) or f"cudaError {code}"
        if name in _NO_GPU_ERRORS:
            raise CudaError(f"{name}: {_NO_GPU_ERRORS[name]} ({what} failed); the CUDA runtime needs an NVIDIA GPU "
                            "and driver: on this machine use --backend onnxruntime or --device cpu", name)
        detail = ""
        if cudart is not None:
            with contextlib.suppress(Exception):
                detail = ": " + cudart.cudaGetErrorString(err)[1].decode()
        raise CudaError(f"{name}{detail} (in {what})", name)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


class _Owned:
    """Frees its handle exactly once: close(), ``with``, or garbage collection."""

    _handle: Any = None

    def _free(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._free()
            finally:
                self._handle = None

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # Interpreter shutdown may have torn down cuda-python already; never raise from __del__.
        with contextlib.suppress(Exception):
            self.close()


class PinnedBuffer(_Owned):
    """Page-locked host memory (cudaHostAlloc): what async copies need to really be async.

    ``array`` is a flat uint8 NumPy view of all of it; ``view(shape, dtype)`` a typed view of its
    start. Views must not be used after close().
    """

    def __init__(self, rt: "CudaRuntime", nbytes: int):
        self.rt, self.nbytes = rt, int(nbytes)
        self._handle = self.ptr = int(rt.call("cudaHostAlloc", max(self.nbytes, 1), rt.cudart.cudaHostAllocDefault))
        raw = (ctypes.c_uint8 * max(self.nbytes, 1)).from_address(self.ptr)
        self.array = np.ctypeslib.as_array(raw)[: self.nbytes]

    def view(self, shape: tuple[int, ...], dtype: Any = np.uint8) -> np.ndarray:
        dtype = np.dtype(dtype)
        need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if need > self.nbytes:
            raise TrtmatteError(f"a {list(shape)} {dtype} view needs {need} bytes but the pinned buffer has {self.nbytes}")
        return self.array[:need].view(dtype).reshape(shape)

    def _free(self) -> None:
        self.rt.call("cudaFreeHost", self._handle)


class DeviceBuffer(_Owned):
    def __init__(self, rt: "CudaRuntime", nbytes: int):
        self.rt, self.nbytes = rt, int(nbytes)
        self._handle = self.ptr = int(rt.call("cudaMalloc", max(self.nbytes, 1)))

    def _free(self) -> None:
        self.rt.call("cudaFree", self._handle)


class Stream(_Owned):
    """A non-blocking stream (does not synchronise with the legacy default stream)."""

    def __init__(self, rt: "CudaRuntime"):
        self.rt = rt
        self._handle = rt.call("cudaStreamCreateWithFlags", rt.cudart.cudaStreamNonBlocking)

    @property
    def handle(self) -> int:
        """The raw cudaStream_t as an int, what TensorRT's execute_async_v3 takes."""
        return int(self._handle)

    def synchronize(self) -> None:
        self.rt.call("cudaStreamSynchronize", self._handle)

    def wait(self, event: "Event") -> None:
        """Work enqueued on this stream after now waits for ``event`` (no host blocking)."""
        self.rt.call("cudaStreamWaitEvent", self._handle, event._handle, 0)

    def _free(self) -> None:
        self.rt.call("cudaStreamDestroy", self._handle)


class Event(_Owned):
    def __init__(self, rt: "CudaRuntime"):
        self.rt = rt
        self._handle = rt.call("cudaEventCreate")

    def record(self, stream: Stream) -> None:
        self.rt.call("cudaEventRecord", self._handle, stream._handle)

    def synchronize(self) -> None:
        self.rt.call("cudaEventSynchronize", self._handle)

    def elapsed_ms(self, end: "Event") -> float:
        """Milliseconds from this event to ``end`` (both recorded and complete)."""
        return float(self.rt.call("cudaEventElapsedTime", self._handle, end._handle))

    def _free(self) -> None:
        self.rt.call("cudaEventDestroy", self._handle)


class Graph(_Owned):
    """An instantiated CUDA graph (cudaGraphExec_t) captured from a stream; replay with launch()."""

    def __init__(self, rt: "CudaRuntime", graph: Any, exec_: Any):
        self.rt, self._graph, self._handle = rt, graph, exec_

    def launch(self, stream: Stream) -> None:
        self.rt.call("cudaGraphLaunch", self._handle, stream._handle)

    def _free(self) -> None:
        self.rt.call("cudaGraphExecDestroy", self._handle)
        self.rt.call("cudaGraphDestroy", self._graph)


class CudaRuntime:
    """The CUDA calls trtmatte makes, in one place. Tests substitute a fake with the same methods."""

    def __init__(self, cudart: Any = None, device: int = 0):
        self.cudart = cudart or _load_cudart()
        self.call("cudaSetDevice", device)  # also the first call: no GPU/driver fails here, in one line
        self.device = device

    def call(self, name: str, *args: Any) -> Any:
        return cuda_call(getattr(self.cudart, name)(*args), name, self.cudart)

    # owning objects
    def pinned(self, nbytes: int) -> PinnedBuffer:
        return PinnedBuffer(self, nbytes)

    def device_buffer(self, nbytes: int) -> DeviceBuffer:
        return DeviceBuffer(self, nbytes)

    def stream(self) -> Stream:
        return Stream(self)

    def event(self) -> Event:
        return Event(self)

    # transfers: async on ``stream``; from pinned memory they overlap compute, from pageable
    # memory the driver stages them through its own pinned buffer and the host waits.
    def copy_h2d(self, dst: int, src: int, nbytes: int, stream: Stream) -> None:
        self.call("cudaMemcpyAsync", dst, src, nbytes, self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, stream._handle)

    def copy_d2h(self, dst: int, src: int, nbytes: int, stream: Stream) -> None:
        self.call("cudaMemcpyAsync", dst, src, nbytes, self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream._handle)

    @contextlib.contextmanager
    def capture(self, stream: Stream) -> Iterator[list]:
        """Record the work enqueued on ``stream`` inside the block into a Graph (yielded list gets it)."""
        mode = self.cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self.call("cudaStreamBeginCapture", stream._handle, mode)
        holder: list = []
        try:
            yield holder
        except BaseException:
            with contextlib.suppress(Exception):
                graph = self.call("cudaStreamEndCapture", stream._handle)
                self.call("cudaGraphDestroy", graph)
            raise
        graph = self.call("cudaStreamEndCapture", stream._handle)
        holder.append(Graph(self, graph, self.call("cudaGraphInstantiate", graph, 0)))

    def device_name(self) -> str:
        props = self.call("cudaGetDeviceProperties", self.device)
        name = props.name
        return (name.split(b"\0")[0].decode() if isinstance(name, bytes) else str(name)).strip()

    def synchronize(self) -> None:
        self.call("cudaDeviceSynchronize")
