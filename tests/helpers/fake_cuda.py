"""A fake CUDA runtime and a fake TensorRT engine, so the session logic runs and is checked on a
CPU: memory is NumPy, "async" work runs when enqueued (or is recorded while a graph is being
captured), and every allocation is counted."""
from __future__ import annotations

import collections
import contextlib
import itertools

import numpy as np

from trtmatte.runtime.buffers import TensorSpec


class FakeCuda:
    def __init__(self):
        self.allocations = collections.Counter()  # kind -> how many were created
        self.memory: dict[int, np.ndarray] = {}  # ptr -> bytes (pinned and device alike)
        self.ops: list[tuple] = []  # (op, stream handle, ...) in enqueue order
        self.clock = 0.0  # fake GPU time in ms
        self._ptrs = itertools.count(0x10000, 0x100000)
        self._capturing: list | None = None

    # owning objects
    def pinned(self, nbytes):
        self.allocations["pinned"] += 1
        return _Buffer(self, nbytes)

    def device_buffer(self, nbytes):
        self.allocations["device"] += 1
        return _Buffer(self, nbytes)

    def stream(self):
        self.allocations["stream"] += 1
        return _Stream(self)

    def event(self):
        self.allocations["event"] += 1
        return _Event(self)

    # work
    def enqueue(self, stream, name, fn, cost_ms=0.0):
        def run():
            fn()
            self.clock += cost_ms
            self.ops.append((name, stream.handle if hasattr(stream, "handle") else stream))
        if self._capturing is not None:
            self._capturing.append(run)
        else:
            run()

    def copy_h2d(self, dst, src, nbytes, stream):
        self.enqueue(stream, "h2d", lambda: self._copy(dst, src, nbytes), nbytes * 1e-6)

    def copy_d2h(self, dst, src, nbytes, stream):
        self.enqueue(stream, "d2h", lambda: self._copy(dst, src, nbytes), nbytes * 1e-6)

    def _copy(self, dst, src, nbytes):
        self.memory[dst][:nbytes] = self.memory[src][:nbytes]

    @contextlib.contextmanager
    def capture(self, stream):
        self._capturing = recorded = []
        holder = []
        try:
            yield holder
        finally:
            self._capturing = None
        self.allocations["graph"] += 1
        holder.append(_Graph(self, recorded))


class _Buffer:
    def __init__(self, cuda, nbytes):
        self.cuda, self.nbytes = cuda, nbytes
        self.ptr = next(cuda._ptrs)
        self.array = cuda.memory[self.ptr] = np.zeros(max(nbytes, 1), np.uint8)
        self.closed = False

    def view(self, shape, dtype=np.uint8):
        dtype = np.dtype(dtype)
        need = int(np.prod(shape)) * dtype.itemsize
        assert need <= self.nbytes, (shape, dtype, self.nbytes)
        return self.array[:need].view(dtype).reshape(shape)

    def close(self):
        if not self.closed:
            self.closed = True
            del self.cuda.memory[self.ptr]


class _Stream:
    _handles = itertools.count(1)

    def __init__(self, cuda):
        self.cuda, self.handle, self.closed, self.waits = cuda, next(self._handles), False, []

    def synchronize(self):
        pass

    def wait(self, event):
        self.waits.append(event)
        self.cuda.ops.append(("wait", self.handle))

    def close(self):
        self.closed = True


class _Event:
    def __init__(self, cuda):
        self.cuda, self.time, self.closed = cuda, None, False

    def record(self, stream):
        self.cuda.enqueue(stream, "event", lambda: setattr(self, "time", self.cuda.clock))

    def synchronize(self):
        assert self.time is not None, "synchronising an event never recorded"

    def elapsed_ms(self, end):
        return end.time - self.time

    def close(self):
        self.closed = True


class _Graph:
    def __init__(self, cuda, recorded):
        self.cuda, self.recorded, self.launches, self.closed = cuda, recorded, 0, False

    def launch(self, stream):
        self.launches += 1
        for op in self.recorded:
            op()

    def close(self):
        self.closed = True


class FakeContext:
    """Behaves like a TensorRT IExecutionContext running a whole-pipeline graph whose alpha is the
    rounded mean of the three channels (uint8), so results can be checked exactly. With a trimap
    input (a trimap model's engine) the trimap's known regions are imposed: 255 where it is above
    170, 0 where it is below 85."""

    def __init__(self, cuda, profile):
        self.cuda, self.profile = cuda, profile
        self.shape, self.shapes, self.addresses, self.executions = None, {}, {}, 0

    def set_input_shape(self, name, shape):
        if name not in self.profile:
            return False
        lo, hi = self.profile[name]["min"], self.profile[name]["max"]
        if len(shape) != len(lo) or not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
            return False
        self.shapes[name] = tuple(shape)
        if name == "image":
            self.shape = tuple(shape)
        return True

    def get_tensor_shape(self, name):
        assert name == "alpha"
        return self.shape[:3]

    def set_tensor_address(self, name, ptr):
        self.addresses[name] = ptr
        return True

    def execute_async_v3(self, stream_handle):
        shape, src, dst = self.shape, self.addresses["image"], self.addresses["alpha"]
        trimap_src = self.addresses.get("trimap")

        def compute():
            self.executions += 1
            n = int(np.prod(shape))
            image = self.cuda.memory[src][:n].reshape(shape)
            alpha = np.rint(image.astype(np.float32).mean(-1)).astype(np.uint8)
            if trimap_src is not None:
                assert self.shapes["trimap"] == shape[:3], "the trimap's shape must follow the image's"
                trimap = self.cuda.memory[trimap_src][:n // 3].reshape(shape[:3])
                alpha = np.where(trimap > 170, 255, np.where(trimap < 85, 0, alpha)).astype(np.uint8)
            self.cuda.memory[dst][:alpha.size] = alpha.ravel()
        self.cuda.enqueue(stream_handle, "execute", compute, 5.0)
        return True


class FakeEngineLayer:
    def __init__(self, cuda, profile, num_profiles=1, alpha_dtype=np.uint8):
        self.cuda, self.profile, self.num_profiles = cuda, profile, num_profiles
        self.tensors = [TensorSpec("image", True, np.dtype(np.uint8), (-1, -1, -1, 3)),
                        *([TensorSpec("trimap", True, np.dtype(np.uint8), (-1, -1, -1))] if "trimap" in profile else []),
                        TensorSpec("alpha", False, np.dtype(alpha_dtype), (-1, -1, -1))]
        self.contexts: list[FakeContext] = []

    def create_context(self, profile_index, stream_handle):
        ctx = FakeContext(self.cuda, self.profile)
        self.contexts.append(ctx)
        return ctx


PROFILE = {"image": {"min": [1, 16, 16, 3], "opt": [1, 64, 64, 3], "max": [2, 96, 128, 3]}}
# a trimap model's engine: the trimap's profile follows the image's N, H, W (engine/builder.py)
TRIMAP_PROFILE = {**PROFILE, "trimap": {k: v[:3] for k, v in PROFILE["image"].items()}}


def fake_session(contexts=1, cuda_graphs=False, num_profiles=1, profile=PROFILE):
    from trtmatte.runtime.session import SessionInfo
    from trtmatte.runtime.tensorrt_session import TensorRTSession

    cuda = FakeCuda()
    layer = FakeEngineLayer(cuda, profile, num_profiles)
    info = SessionInfo("tensorrt", "fp32", "fake GPU", "tiny", "fake")
    return TensorRTSession(layer, contexts=contexts, cuda_graphs=cuda_graphs, cuda=cuda, profile=profile, info=info), cuda, layer
