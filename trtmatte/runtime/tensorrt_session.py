"""TensorRT backend: persistent device and pinned buffers, async copies, optional CUDA graphs.

Per call: ``set_input_shape`` -> ``set_tensor_address`` -> copy the image into pinned staging ->
async H2D -> ``execute_async_v3`` -> async D2H into pinned output -> one synchronisation. Every
buffer is allocated once at construction for the optimisation profile's max shapes
(:mod:`.buffers`), so a call allocates nothing and returns views into the persistent pinned
outputs (valid until the next call on the same slot).

The TensorRT API is touched only by :class:`TrtEngineLayer` (engine I/O description, contexts);
the session logic talks to it and to :class:`~.cuda.CudaRuntime`, both of which tests replace with
fakes. Not yet executed against a real TensorRT engine (docs/where-it-ran.md): the tests drive it
through those fakes.

``contexts=2`` (C++: ``Options::contexts``) gives the pipelined mode (:mod:`.pipelined`) two slots,
each a set of buffers, a stream and events: the
upload of image k+1 and the download of image k-1 overlap the compute of image k. TensorRT lets
one optimisation profile serve one execution context at a time, so with a single-profile engine
both slots share one context and compute is ordered across the streams with an event.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import TrtmatteError
from ..contract.names import ALPHA, IMAGE as INPUT, TRIMAP
from .buffers import IOPlan, TensorSpec, numpy_dtype, plan_io, shape_fits
from .session import InFlightSession, SessionInfo, Timing, renamed_keywords



class TrtEngineLayer:
    """The thin TensorRT layer: what the session needs from an engine, nothing else."""

    def __init__(self, loaded):  # trtmatte.engine.loader.LoadedEngine
        self.loaded, self.engine, self.trt = loaded, loaded.engine, loaded.trt

    @property
    def tensors(self) -> list[TensorSpec]:
        out = []
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            is_input = self.engine.get_tensor_mode(name) == self.trt.TensorIOMode.INPUT
            out.append(TensorSpec(name, is_input, numpy_dtype(self.engine.get_tensor_dtype(name).name, name),
                                  tuple(self.engine.get_tensor_shape(name))))
        return out

    @property
    def num_profiles(self) -> int:
        return int(self.engine.num_optimization_profiles)

    def create_context(self, profile_index: int, stream_handle: int) -> Any:
        context = self.engine.create_execution_context()
        if context is None:
            raise TrtmatteError("TensorRT could not create an execution context (out of GPU memory?)")
        if profile_index:
            context.set_optimization_profile_async(profile_index, stream_handle)
        return context


@dataclass
class _Slot:
    """One set of everything a call in flight needs: context, stream, buffers, events, graphs."""

    index: int
    context: Any
    stream: Any
    device: dict
    pinned: dict
    alpha_f32: np.ndarray  # persistent float32 copy of alpha for run()'s contract
    events: tuple
    graphs: dict
    shape: tuple = ()
    out_shapes: dict | None = None
    graphed: bool = False


class TensorRTSession(InFlightSession):
    returns_views = True  # run()/collect() hand back views of persistent buffers (the pipeline copies them)
    has_raw_outputs = True

    @renamed_keywords
    def __init__(self, plan_or_layer: str | os.PathLike | Any, *, contexts: int = 1, cuda_graphs: bool = False,
                 cuda: Any = None, profile: dict | None = None, info: SessionInfo | None = None):
        if isinstance(plan_or_layer, (str, os.PathLike)):
            from ..engine.loader import load

            loaded = load(plan_or_layer)  # refuses mismatched plans / no GPU in one line, before deserializing
            layer = TrtEngineLayer(loaded)
            profile = loaded.meta.profile
            from ..engine.flavour import flavour_label

            flavour = flavour_label(loaded.meta.tensorrt_flavour)
            info = SessionInfo("tensorrt", loaded.meta.precision, loaded.gpu.name,
                               loaded.meta.onnx_metadata.get("variant", "?"), f"({flavour}) {loaded.meta.tensorrt_version}")
        else:
            layer = plan_or_layer
        if profile is None or info is None:
            raise TrtmatteError("TensorRTSession needs the engine's profile and info when not given a plan path")
        if cuda is None:
            from .cuda import CudaRuntime

            cuda = CudaRuntime()
        self.layer, self.cuda, self.info, self.use_graphs = layer, cuda, info, cuda_graphs
        self.profile = {k: {kk: list(vv) for kk, vv in v.items()} for k, v in profile.items()}
        tensors = layer.tensors
        self.input_names = [t.name for t in tensors if t.is_input]
        if sorted(self.input_names) not in ([INPUT], sorted([INPUT, TRIMAP])) or ALPHA not in [t.name for t in tensors]:
            raise TrtmatteError(f"the engine is not a trtmatte whole-pipeline graph (expects input '{INPUT}' (and "
                                f"'{TRIMAP}' for trimap models), output '{ALPHA}'); build it from `trtmatte export` output")
        self.needs_trimap = TRIMAP in self.input_names
        self.reallocations = 0
        self._closed = False
        self._slots: list[_Slot] = []
        self._last_compute = None  # the slot whose compute was enqueued last (shared-context ordering)
        slots = contexts  # one slot (stream, buffers, events) per call in flight
        streams = [cuda.stream() for _ in range(slots)]
        contexts = [layer.create_context(i, streams[i].handle) for i in range(min(slots, max(1, layer.num_profiles)))]
        self.shared_context = len(contexts) < slots
        # Output shapes at the profile max come from TensorRT itself (set_input_shape, get_tensor_shape).
        self.plan: IOPlan = plan_io(tensors, {k: v["max"] for k, v in self.profile.items()},
                                    lambda shapes: self._output_shapes(contexts[0], shapes), slots)
        for i in range(slots):
            self._slots.append(self._make_slot(i, contexts[i % len(contexts)], streams[i]))

    # ------------------------------------------------------------------ allocation (once)
    def _make_slot(self, index: int, context: Any, stream: Any) -> _Slot:
        device = {b.name: self.cuda.device_buffer(b.nbytes) for b in self.plan.buffers}
        pinned = {b.name: self.cuda.pinned(b.nbytes) for b in self.plan.buffers}
        alpha = self.plan[ALPHA]
        events = tuple(self.cuda.event() for _ in range(4))  # start, uploaded, computed, downloaded
        return _Slot(index, context, stream, device, pinned, np.empty(int(np.prod(alpha.max_shape)), np.float32),
                     events, {})

    def _input_shapes(self, image_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Every input's shape for an image batch: the trimap is the image's [N, H, W]."""
        return {name: tuple(image_shape) if name == INPUT else tuple(image_shape[:3]) for name in self.input_names}

    def _output_shapes(self, context: Any, input_shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        for name, shape in input_shapes.items():
            if not context.set_input_shape(name, tuple(shape)):
                raise TrtmatteError(f"TensorRT rejected {name} shape {list(shape)} (see the TensorRT error above)")
        return {b.name: tuple(context.get_tensor_shape(b.name)) for b in self._output_specs()}

    def _output_specs(self):
        return [t for t in self.layer.tensors if not t.is_input] if not self._slots else self.plan.outputs

    def _ensure_capacity(self, slot: _Slot, out_shapes: dict) -> None:
        """Debug outputs at the working size can exceed their max-corner size for some in-profile
        shapes; grow that buffer once (counted in ``reallocations``) instead of overrunning it."""
        for name, shape in out_shapes.items():
            need = int(np.prod(shape, dtype=np.int64)) * self.plan[name].dtype.itemsize
            if need > slot.device[name].nbytes:
                slot.stream.synchronize()
                for store, make in ((slot.device, self.cuda.device_buffer), (slot.pinned, self.cuda.pinned)):
                    store[name].close()
                    store[name] = make(need)
                for g in slot.graphs.values():  # captured with the old addresses
                    g.close()
                slot.graphs.clear()
                self.reallocations += 1
        if np.prod(out_shapes[ALPHA]) > slot.alpha_f32.size:
            slot.alpha_f32 = np.empty(int(np.prod(out_shapes[ALPHA])), np.float32)
            self.reallocations += 1

    # ------------------------------------------------------------------ per call (no allocation)
    @property
    def contexts(self) -> int:
        return len(self._slots)

    def _check_profile(self, shape: tuple[int, ...]) -> None:
        lo, hi = self.profile[INPUT]["min"], self.profile[INPUT]["max"]
        if not shape_fits(shape, lo, hi):
            raise TrtmatteError(f"input {list(shape)} is outside the engine's profile {lo}..{hi}; "
                                "rebuild with `trtmatte build --min/--max` covering it")

    def submit_impl(self, slot_index: int, images: np.ndarray, trimap: np.ndarray | None) -> None:
        """Enqueue one checked batch on a slot: staging copies, H2D, execute, D2H. Returns before
        the GPU is done."""
        if self._closed:
            raise TrtmatteError("this TensorRT session is closed")
        slot = self._slots[slot_index]
        shape = tuple(images.shape)
        self._check_profile(shape)
        if shape != slot.shape or self.shared_context:
            # A shared context holds the other slot's shape and addresses: set them every time.
            slot.out_shapes = self._output_shapes(slot.context, self._input_shapes(shape))
            self._ensure_capacity(slot, slot.out_shapes)
            slot.shape = shape
            for name, buf in slot.device.items():
                if not slot.context.set_tensor_address(name, buf.ptr):
                    raise TrtmatteError(f"TensorRT rejected the address of tensor {name!r}")
        inputs = {INPUT: images} if trimap is None else {INPUT: images, TRIMAP: trimap}
        for name, value in inputs.items():
            np.copyto(slot.pinned[name].view(value.shape, np.uint8), value)
        in_bytes = {name: value.nbytes for name, value in inputs.items()}
        start, _, _, end = slot.events
        if self.use_graphs and not self.shared_context:
            graph = slot.graphs.get(shape)
            if graph is None:
                # TensorRT must enqueue once after a shape change before its work can be captured.
                self._enqueue(slot, in_bytes, timed=False)
                slot.stream.synchronize()
                with self.cuda.capture(slot.stream) as captured:
                    self._enqueue(slot, in_bytes, timed=False)
                graph = slot.graphs[shape] = captured[0]
            start.record(slot.stream)
            graph.launch(slot.stream)
            end.record(slot.stream)
            slot.graphed = True
        else:
            self._enqueue(slot, in_bytes, timed=True)
            slot.graphed = False

    def _enqueue(self, slot: _Slot, in_bytes: dict[str, int], timed: bool) -> None:
        start, uploaded, computed, downloaded = slot.events
        cuda, stream = self.cuda, slot.stream
        if timed:
            start.record(stream)
        for name, nbytes in in_bytes.items():
            cuda.copy_h2d(slot.device[name].ptr, slot.pinned[name].ptr, nbytes, stream)
        if timed:
            uploaded.record(stream)
            prev = self._last_compute
            if self.shared_context and prev is not None and prev is not slot:
                stream.wait(prev.events[2])  # one context: compute k+1 after compute k
        if not slot.context.execute_async_v3(stream.handle):
            raise TrtmatteError("TensorRT execution failed (see the TensorRT error above)")
        if timed:
            computed.record(stream)
            self._last_compute = slot
        for b in self.plan.outputs:
            nbytes = int(np.prod(slot.out_shapes[b.name], dtype=np.int64)) * b.dtype.itemsize
            cuda.copy_d2h(slot.pinned[b.name].ptr, slot.device[b.name].ptr, nbytes, stream)
        if timed:
            downloaded.record(stream)

    def collect_raw(self, slot_index: int) -> dict[str, np.ndarray]:
        """Wait for a slot's work (the one synchronisation); views into its pinned outputs."""
        slot = self._slots[slot_index]
        slot.events[3].synchronize()
        return {b.name: slot.pinned[b.name].view(slot.out_shapes[b.name], b.dtype) for b in self.plan.outputs}

    def collect(self, slot_index: int) -> np.ndarray:
        """Float alpha of a slot (a view of a persistent buffer: copy it to keep it past the next call)."""
        alpha = self.collect_raw(slot_index)[ALPHA]
        out = self._slots[slot_index].alpha_f32[: alpha.size].reshape(alpha.shape)
        if alpha.dtype == np.uint8:
            np.multiply(alpha, np.float32(1 / 255), out=out)
        else:
            np.copyto(out, alpha)
        return out

    def timing(self, slot_index: int = 0) -> Timing:
        """H2D / compute / D2H of the slot's last call from its CUDA events (total only with graphs)."""
        slot = self._slots[slot_index]
        start, uploaded, computed, downloaded = slot.events
        total = start.elapsed_ms(downloaded) / 1e3
        if slot.graphed:
            return Timing(total, None, None, None)
        return Timing(total, start.elapsed_ms(uploaded) / 1e3, uploaded.elapsed_ms(computed) / 1e3,
                      computed.elapsed_ms(downloaded) / 1e3)

    def run_raw_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> dict[str, np.ndarray]:
        self.submit_impl(0, images, trimap)
        return self.collect_raw(0)

    def run_timed(self, images: np.ndarray, trimap: np.ndarray | None = None) -> tuple[np.ndarray, Timing]:
        alpha = self.run(images, trimap)
        return alpha, self.timing(0)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for slot in self._slots:
            slot.stream.synchronize()
            for obj in (*slot.graphs.values(), *slot.device.values(), *slot.pinned.values(), *slot.events, slot.stream):
                obj.close()
        self._slots.clear()
