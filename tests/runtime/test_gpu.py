"""The runtime on a real GPU: the cuda-python layer, the PyTorch-CUDA session (pinned memory,
streams, CUDA graphs, two slots) and TensorRT. Every test is marked `gpu` (tests/conftest.py skips
it, saying so, where there is no NVIDIA GPU: CI); on a GPU machine each skips naming what else is
missing (the lent H100 has no TensorRT)."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from trtmatte.models import get_config

from helpers.tiny_model import TinyMatting

PRE = get_config("late_fusion").preprocessing
HAS_CUDA_PYTHON = importlib.util.find_spec("cuda") is not None and importlib.util.find_spec("cuda.bindings") is not None
pytestmark = pytest.mark.gpu  # no GPU: skipped by tests/conftest.py before the checks below
needs_torch_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                      reason="needs PyTorch with CUDA: this torch sees no CUDA GPU (a CPU-only build?)")
needs_cuda_python = pytest.mark.skipif(not HAS_CUDA_PYTHON, reason="needs cuda-python (pip install -e '.[gpu]'); not installed")


def frames(n, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


@needs_cuda_python
def test_cuda_layer_round_trip_pinned_device_stream_event_graph():
    from trtmatte.runtime.cuda import CudaRuntime

    cuda = CudaRuntime()
    assert cuda.device_name()
    n = 1 << 20
    with cuda.pinned(n) as src, cuda.pinned(n) as dst, cuda.device_buffer(n) as dev, cuda.stream() as stream, \
            cuda.event() as t0, cuda.event() as t1:
        src.array[:] = np.arange(n) % 251
        t0.record(stream)
        cuda.copy_h2d(dev.ptr, src.ptr, n, stream)
        cuda.copy_d2h(dst.ptr, dev.ptr, n, stream)
        t1.record(stream)
        t1.synchronize()
        assert np.array_equal(dst.array, src.array) and t0.elapsed_ms(t1) > 0
        assert dst.view((256, 1024), np.float32).shape == (256, 1024)
        with cuda.capture(stream) as captured:  # a graph of the same two copies, replayed on new data
            cuda.copy_h2d(dev.ptr, src.ptr, n, stream)
            cuda.copy_d2h(dst.ptr, dev.ptr, n, stream)
        src.array[:] = 7
        captured[0].launch(stream)
        stream.synchronize()
        assert (dst.array == 7).all()
        captured[0].close()
    assert src.closed and dev.closed and stream.closed


@needs_torch_cuda
@pytest.mark.parametrize("graphs", [False, True])
def test_torch_cuda_session_pinned_no_per_call_allocation(graphs):
    from trtmatte.runtime.torch_session import TorchSession

    cpu = TorchSession(TinyMatting().eval(), PRE, "tiny")
    gpu = TorchSession(TinyMatting().eval(), PRE, "tiny", "cuda", cuda_graphs=graphs, max_shape=(2, 128, 128, 3))
    assert "[PyTorch-CUDA]" in gpu.info.device and gpu.info.backend == "torch"
    slot = gpu._slots[0]
    assert slot.pinned_in.is_pinned() and slot.pinned_out.is_pinned()
    ptrs = (slot.pinned_in.data_ptr(), slot.device_in.data_ptr(), slot.pinned_out.data_ptr())
    for i, shape in enumerate([(1, 64, 96), (2, 128, 128), (1, 64, 96), (1, 33, 70)] * 2):
        x = frames(*shape, seed=i)
        alpha, timing = gpu.run_timed(x)
        assert np.shares_memory(alpha, slot.pinned_out.numpy())  # a view of the persistent pinned output
        assert np.abs(alpha - cpu.run(x)).max() < 2e-3  # cuDNN may use TF32 convolutions
        assert timing.total_s > 0 and timing.compute_s > 0 and timing.h2d_s > 0
    assert gpu.reallocations == 0
    assert ptrs == (slot.pinned_in.data_ptr(), slot.device_in.data_ptr(), slot.pinned_out.data_ptr())
    if graphs:
        assert not gpu.graph_errors, gpu.graph_errors
        assert len(slot.graphs) == 3


@needs_torch_cuda
def test_torch_cuda_pipelined_two_slots_in_order():
    from trtmatte.runtime.pipelined import Pipeline, as_submitter
    from trtmatte.runtime.torch_session import TorchSession

    gpu = TorchSession(TinyMatting().eval(), PRE, "tiny", "cuda", contexts=2, max_shape=(1, 96, 96, 3))
    batches = [frames(1, 64 + 8 * (i % 3), 96, seed=i) for i in range(9)]
    expected = [gpu.run(b).copy() for b in batches]
    pipe = Pipeline(as_submitter(gpu))
    results = list(pipe.run(batches))
    assert pipe.stats.max_in_flight == 2
    for r, e in zip(results, expected):
        assert r.ok and np.array_equal(r.value, e)


@needs_torch_cuda
@pytest.mark.parametrize("precision,label", [("fp16", "fp16 (float16 network, BatchNorm folded)"),
                                             ("fp16-autocast", "fp16 (autocast)")])
def test_torch_cuda_fp16_close_to_fp32(precision, label):
    from trtmatte.runtime.torch_session import TorchSession

    x = frames(1, 96, 128)
    fp32 = TorchSession(TinyMatting().eval(), PRE, "tiny", "cuda").run(x).copy()
    half = TorchSession(TinyMatting().eval(), PRE, "tiny", "cuda", precision=precision, cuda_graphs=True)
    assert half.info.precision == label
    assert np.abs(half.run(x) - fp32).max() < 1e-2


def _tensorrt_missing() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "needs NVIDIA TensorRT (the `tensorrt` package); not installed"
    if not HAS_CUDA_PYTHON:
        return "needs cuda-python (pip install -e '.[gpu]') for the TensorRT session"
    return None


@pytest.mark.skipif(_tensorrt_missing() is not None, reason=_tensorrt_missing() or "")
def test_tensorrt_session_real_engine(tmp_path):
    """Build a tiny engine with standard TensorRT and run it through the pinned runtime."""
    from trtmatte.engine.builder import BuildOptions, build_engine
    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.runtime.tensorrt_session import TensorRTSession
    from trtmatte.runtime.torch_session import TorchSession

    onnx_path, plan = tmp_path / "tiny.onnx", tmp_path / "tiny.plan"
    export_onnx(TinyMatting(), "late_fusion", PRE, onnx_path, ExportOptions(alpha_dtype="float32"))
    build_engine(onnx_path, plan, BuildOptions(min_hw=(32, 32), opt_hw=(64, 64), max_hw=(128, 128), flavour="tensorrt"))
    session = TensorRTSession(plan, contexts=2, cuda_graphs=True)
    cpu = TorchSession(TinyMatting().eval(), PRE, "tiny")
    for i, shape in enumerate([(1, 64, 64), (1, 100, 70), (1, 64, 64)]):
        x = frames(*shape, seed=i)
        assert np.abs(session.run(x) - cpu.run(x)).max() < 2e-3
    assert session.info.backend == "tensorrt" and session.reallocations == 0
    session.close()
