"""PyTorch backend: CPU, or CUDA with the same pinned-memory runtime as the TensorRT session.

On CUDA (labelled ``torch`` / PyTorch-CUDA, never TensorRT) every slot owns a stream, a pinned
host staging buffer for the uint8 input and the float alpha, a device input buffer and four
timing events, all allocated once (grown only when a larger image arrives, counted in
``reallocations``). A call copies the image into pinned memory, uploads it with a non-blocking
copy, runs the pipeline, downloads alpha with a non-blocking copy and synchronises once. With
``contexts=2`` the pipelined mode overlaps transfers of one image with compute of the other; with
``cuda_graphs=True`` the pipeline is captured into a CUDA graph per input shape and replayed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import TrtmatteError
from ..models.matting_pipeline import MattingPipeline
from ..models.registry import Preprocessing
from ..contract.names import ALPHA
from .session import InFlightSession, SessionInfo, Timing, renamed_keywords

# fp16: the network in float16 with BatchNorm folded and the output heads in float32
# (models/inference.py); fp16-autocast: float32 weights, autocast's casts around each op (the
# earlier fp16 path, kept to compare: `trtmatte bench --precision fp16-autocast`).
PRECISIONS = ("fp32", "fp16", "fp16-autocast")


PRECISION_LABELS = {"fp32": "fp32", "fp16": "fp16 (float16 network, BatchNorm folded)",
                    "fp16-autocast": "fp16 (autocast)"}


def inference_form(network: torch.nn.Module, half: bool, fold: bool = True) -> tuple[torch.nn.Module, str]:
    """(the module to run, what was done to it). A network torch.fx cannot trace runs as given in
    float32 (the reason is returned); float16 needs the trace, so it fails in one line instead."""
    from ..models.inference import count_batchnorms, fold_batchnorm, to_half

    if not (fold or half):
        return network.eval(), "as given"
    try:
        folded = fold_batchnorm(network)
    except ValueError as exc:
        if half:
            raise TrtmatteError(f"fp16 on the torch backend needs a traceable network: {exc}") from None
        return network.eval(), f"as given, BatchNorm not folded: {exc}"
    for name in ("needs_trimap", "extra_outputs", "debug_outputs"):  # what MattingPipeline reads
        if hasattr(network, name):
            setattr(folded, name, getattr(network, name))
    before, after = count_batchnorms(network), count_batchnorms(folded)
    done = f"{before - after} of {before} BatchNorms folded into their convolutions"
    if half:
        return to_half(folded), done + ", float16 with float32 output heads"
    return folded, done


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads, {os.cpu_count()} cores)"


class _CapturablePipeline(MattingPipeline):
    """MattingPipeline with the mean pixel already on the device: ``normalize`` builds it with
    torch.tensor(list, device=...), a synchronous copy that CUDA graph capture forbids."""

    def __init__(self, network: torch.nn.Module, preprocessing: Preprocessing):
        super().__init__(network, preprocessing)
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("inv_std", 1.0 / torch.tensor(preprocessing.std).view(1, 3, 1, 1), persistent=False)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.inv_std


@dataclass
class _CudaSlot:
    stream: Any
    pinned_in: torch.Tensor  # flat uint8, pinned
    device_in: torch.Tensor  # flat uint8 on the GPU
    pinned_out: torch.Tensor  # flat float32, pinned
    events: tuple
    graphs: dict = field(default_factory=dict)  # input shape -> (CUDAGraph, static alpha)
    out_shape: tuple = ()
    graphed: bool = False


class TorchSession(InFlightSession):
    returns_views = True  # collect() on CUDA hands back a view of a pinned buffer
    has_raw_outputs = True

    @renamed_keywords
    def __init__(self, network: torch.nn.Module, preprocessing: Preprocessing, variant: str,
                 device: str = "cpu", *, precision: str = "fp32", contexts: int = 1, cuda_graphs: bool = False,
                 max_shape: tuple[int, int, int, int] = (1, 800, 800, 3), weights_note: str = "",
                 enforce_trimap: bool = True, pipeline: torch.nn.Module | None = None,
                 fold_batchnorm: bool = True):
        """``pipeline``: a ready pipeline module to run instead of MattingPipeline(network, ...)
        (the Late Fusion -> AdaMatting pipeline; CPU only). ``fold_batchnorm``: run the network's
        inference form, Conv -> BatchNorm pairs folded (models/inference.py); precision fp16
        always does."""
        try:
            self.device = torch.device(device)
        except RuntimeError:
            raise TrtmatteError(f"unknown torch device {device!r}: use cpu or cuda") from None
        if precision not in PRECISIONS:
            raise TrtmatteError(f"unknown precision {precision!r} for the torch backend: use {' or '.join(PRECISIONS)}")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise TrtmatteError("--device cuda, but this PyTorch has no usable CUDA GPU; use --device cpu")
        if precision != "fp32" and self.device.type != "cuda":
            raise TrtmatteError(f"{precision} on the torch backend needs --device cuda (CPU half convolutions are slow)")
        self.precision, self.use_graphs, self.reallocations = precision, cuda_graphs, 0
        cuda = self.device.type == "cuda"
        if pipeline is not None and cuda:
            raise TrtmatteError("a ready pipeline module runs on the CPU only in TorchSession")
        self.inference_form = "the network as given (a ready pipeline)"
        if pipeline is None:
            network, self.inference_form = inference_form(network, half=precision == "fp16", fold=fold_batchnorm)
            pipeline = (_CapturablePipeline if cuda else MattingPipeline)(network, preprocessing)
            pipeline.enforce_trimap = enforce_trimap
        self.pipeline = pipeline.eval().to(self.device)
        self.needs_trimap = self.pipeline.needs_trimap
        if not cuda:
            # oneDNN's NHWC convolutions: ~20% faster than NCHW for this network on CPU (measured).
            # On the H100, channels_last + cudnn.benchmark measured no faster (FP16 + CUDA graphs:
            # 31.3 ms vs 28.2 ms NCHW at 800x800), so CUDA keeps NCHW.
            self.pipeline.to(memory_format=torch.channels_last)
        self.info = SessionInfo("torch", PRECISION_LABELS[precision],
                                _device_name(self.device) + (" [PyTorch-CUDA]" if cuda else ""), variant,
                                torch.__version__)
        self.weights_note = weights_note
        self._slots: list[_CudaSlot] = []
        self.graph_errors: list[str] = []
        if cuda_graphs and self.needs_trimap:  # a captured graph reads one static input buffer, not two
            self.use_graphs = False
            self.graph_errors.append("CUDA graphs are not used for trimap models (eager)")
        if cuda:
            n, h, w, c = max_shape
            self._slots = [self._make_slot(n * h * w * c, n * h * w) for _ in range(max(1, contexts))]

    # ------------------------------------------------------------------ CUDA: allocation once
    def _make_slot(self, in_elems: int, out_elems: int) -> _CudaSlot:
        return _CudaSlot(torch.cuda.Stream(self.device),
                         torch.empty(in_elems, dtype=torch.uint8).pin_memory(),
                         torch.empty(in_elems, dtype=torch.uint8, device=self.device),
                         torch.empty(out_elems, dtype=torch.float32).pin_memory(),
                         tuple(torch.cuda.Event(enable_timing=True) for _ in range(4)))

    def _ensure_capacity(self, slot: _CudaSlot, in_elems: int, out_elems: int) -> None:
        if in_elems > slot.device_in.numel() or out_elems > slot.pinned_out.numel():
            slot.stream.synchronize()
            fresh = self._make_slot(max(in_elems, slot.device_in.numel()), max(out_elems, slot.pinned_out.numel()))
            slot.pinned_in, slot.device_in, slot.pinned_out = fresh.pinned_in, fresh.device_in, fresh.pinned_out
            slot.graphs.clear()  # captured with the old addresses
            self.reallocations += 1

    @property
    def contexts(self) -> int:
        return max(1, len(self._slots))

    def _forward(self, x: torch.Tensor, trimap: torch.Tensor | None = None) -> torch.Tensor:
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.precision == "fp16-autocast"):
            return self.pipeline(x, trimap).alpha.float()

    def submit_impl(self, slot_index: int, images: np.ndarray, trimap: np.ndarray | None) -> None:
        """CUDA: enqueue one checked batch on a slot's stream and return before the GPU is done."""
        if not self._slots:
            self._cpu_result = self._run_cpu(images, trimap)
            return
        slot = self._slots[slot_index]
        n, h, w, _ = images.shape
        self._ensure_capacity(slot, images.size, n * h * w)
        shape = tuple(images.shape)
        np.copyto(slot.pinned_in.numpy()[: images.size].reshape(shape), images)  # host memcpy into pinned
        x = slot.device_in[: images.size].view(shape)
        start, uploaded, computed, downloaded = slot.events
        with torch.cuda.stream(slot.stream), torch.inference_mode():
            start.record(slot.stream)
            x.copy_(slot.pinned_in[: images.size].view(shape), non_blocking=True)
            t = None if trimap is None else torch.from_numpy(trimap).pin_memory().to(self.device, non_blocking=True)
            uploaded.record(slot.stream)
            alpha = self._graph_replay(slot, x, shape) if self.use_graphs else None
            slot.graphed = alpha is not None
            if alpha is None:
                alpha = self._forward(x, t)
            computed.record(slot.stream)
            slot.out_shape = tuple(alpha.shape)
            slot.pinned_out[: alpha.numel()].view(alpha.shape).copy_(alpha, non_blocking=True)
            downloaded.record(slot.stream)
            # alpha was allocated on this slot's stream by the caching allocator; it is freed when
            # the stream reaches this point, not before (record_stream is implied for own-stream use).

    def _graph_replay(self, slot: _CudaSlot, x: torch.Tensor, shape: tuple) -> torch.Tensor | None:
        entry = slot.graphs.get(shape)
        if entry is None:
            try:
                for _ in range(2):  # warm-up on the capture stream (cuDNN picks algorithms here)
                    self._forward(x)
                slot.stream.synchronize()
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph, stream=slot.stream):
                    static_alpha = self._forward(x)
                entry = slot.graphs[shape] = (graph, static_alpha)
            except Exception as exc:  # capture is an optimisation: fall back to eager, say why once
                self.graph_errors.append(f"{list(shape)}: {str(exc).splitlines()[0]}")
                self.use_graphs = False
                return None
        entry[0].replay()
        return entry[1]

    def collect(self, slot_index: int) -> np.ndarray:
        """Wait for a slot (the one synchronisation) and return alpha: on CUDA a view of the slot's
        pinned output, valid until the slot's next call."""
        if not self._slots:
            return self._cpu_result
        slot = self._slots[slot_index]
        slot.events[3].synchronize()
        return slot.pinned_out.numpy()[: int(np.prod(slot.out_shape))].reshape(slot.out_shape)

    def timing(self, slot_index: int = 0) -> Timing:
        slot = self._slots[slot_index]
        start, uploaded, computed, downloaded = slot.events
        return Timing(start.elapsed_time(downloaded) / 1e3, start.elapsed_time(uploaded) / 1e3,
                      uploaded.elapsed_time(computed) / 1e3, computed.elapsed_time(downloaded) / 1e3)

    # ------------------------------------------------------------------ the session interface
    def _tensors(self, images: np.ndarray, trimap: np.ndarray | None):
        # torch warns on read-only arrays (e.g. scikit-image data): copy those
        x = torch.as_tensor(images if images.flags.writeable else images.copy(), device=self.device)
        t = None if trimap is None else torch.as_tensor(trimap if trimap.flags.writeable else trimap.copy(),
                                                          device=self.device)
        return x, t

    @torch.inference_mode()
    def _run_cpu(self, images: np.ndarray, trimap: np.ndarray | None = None) -> np.ndarray:
        return self.pipeline(*self._tensors(images, trimap)).alpha.float().cpu().numpy()

    @torch.inference_mode()
    def run_raw_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> dict[str, np.ndarray]:
        """Every output of the pipeline, as an exported graph with debug outputs would give them:
        float alpha [N, H, W], the other outputs (trimap values) and the debug maps (working size)."""
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.precision == "fp16-autocast"):
            out = self.pipeline(*self._tensors(images, trimap))
        return {ALPHA: out.alpha.float().cpu().numpy(),
                **{k: v.float().cpu().numpy() for k, v in {**out.outputs, **out.debug}.items()}}

    def run_timed(self, images: np.ndarray, trimap: np.ndarray | None = None) -> tuple[np.ndarray, Timing]:
        if not self._slots:
            return super().run_timed(images, trimap)
        alpha = self.run(images, trimap)
        return alpha, self.timing(0)

    def close(self) -> None:
        for slot in self._slots:
            slot.stream.synchronize()
        self._slots = []
