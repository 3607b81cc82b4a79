"""TensorRTSession's logic on a fake CUDA runtime and a fake engine (TensorRT cannot run here):
allocation once, no allocation per call, views into persistent pinned outputs, graphs per shape,
double-buffered slots, profile checks. The real engine test is in tests/runtime/test_gpu.py."""
from __future__ import annotations

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError

from helpers.fake_cuda import PROFILE, fake_session


def images(n, h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def expected(x):
    return np.rint(x.astype(np.float32).mean(-1)).astype(np.uint8)


def test_allocates_once_for_profile_max_then_never_per_call():
    session, cuda, _ = fake_session()
    # image [2,96,128,3] uint8 and alpha [2,96,128] uint8: one device and one pinned buffer each
    assert cuda.allocations == {"device": 2, "pinned": 2, "stream": 1, "event": 4}
    assert session.plan.device_bytes == 2 * 96 * 128 * 4
    before = dict(cuda.allocations)
    for i, (n, h, w) in enumerate([(1, 16, 16), (2, 96, 128), (1, 50, 70), (1, 50, 70), (2, 17, 33)] * 3):
        x = images(n, h, w, i)
        raw = session.run_raw(x)["alpha"]
        assert raw.shape == (n, h, w) and np.array_equal(raw, expected(x))
    assert dict(cuda.allocations) == before and session.reallocations == 0


def test_returns_views_into_persistent_pinned_buffers():
    session, cuda, _ = fake_session()
    a = session.run_raw(images(1, 32, 32, 1))["alpha"]
    pinned = session._slots[0].pinned["alpha"]
    assert np.shares_memory(a, pinned.array)
    f = session.run(images(1, 32, 32, 2))
    assert f.dtype == np.float32 and np.shares_memory(f, session._slots[0].alpha_f32)
    assert np.allclose(f, expected(images(1, 32, 32, 2)) / 255.0)
    # the per-call sequence: H2D, execute, D2H on the slot's stream, with timing events around them
    names = [op for op, _ in cuda.ops[-7:]]
    assert names == ["event", "h2d", "event", "execute", "event", "d2h", "event"]


def test_timing_split_from_events():
    session, cuda, _ = fake_session()
    _, t = session.run_timed(images(1, 64, 64))
    assert t.compute_s == pytest.approx(0.005)  # the fake engine costs 5 ms
    assert t.h2d_s == pytest.approx(64 * 64 * 3 * 1e-9) and t.d2h_s == pytest.approx(64 * 64 * 1e-9)
    assert t.total_s == pytest.approx(t.h2d_s + t.compute_s + t.d2h_s)


def test_cuda_graph_captured_once_per_shape_and_replayed():
    session, cuda, layer = fake_session(cuda_graphs=True)
    shapes = [(1, 32, 32), (1, 32, 32), (1, 40, 48), (1, 32, 32), (1, 40, 48), (1, 40, 48)]
    for i, s in enumerate(shapes):
        x = images(*s, seed=i)
        assert np.array_equal(session.run_raw(x)["alpha"], expected(x))  # the replay reads fresh input
    assert cuda.allocations["graph"] == 2
    graphs = session._slots[0].graphs
    assert {k: g.launches for k, g in graphs.items()} == {(1, 32, 32, 3): 3, (1, 40, 48, 3): 3}
    # one warm-up enqueue per new shape (TensorRT needs it before capture), then only replays
    assert layer.contexts[0].executions == 2 + len(shapes)
    assert session.timing().compute_s is None  # no split inside a graph: said, not invented


def test_two_slots_share_one_context_and_order_compute():
    session, cuda, layer = fake_session(contexts=2)
    assert len(layer.contexts) == 1 and session.shared_context  # one profile -> one context
    assert cuda.allocations["device"] == 4 and cuda.allocations["stream"] == 2
    a, b = images(1, 32, 32, 1), images(2, 48, 64, 2)
    session.submit(0, a)
    session.submit(1, b)
    assert np.array_equal(session.collect_raw(0)["alpha"], expected(a))
    assert np.array_equal(session.collect_raw(1)["alpha"], expected(b))
    # slot 1's compute waits for slot 0's compute event on the shared context
    assert session._slots[1].stream.waits == [session._slots[0].events[2]]


def test_two_profiles_give_two_contexts():
    session, _, layer = fake_session(contexts=2, num_profiles=2)
    assert len(layer.contexts) == 2 and not session.shared_context


@pytest.mark.parametrize("shape,match", [((1, 8, 8, 3), "outside the engine's profile"),
                                         ((3, 32, 32, 3), "outside the engine's profile"),
                                         ((1, 200, 32, 3), "rebuild with `trtmatte build --min/--max`")])
def test_outside_profile_is_one_line(shape, match):
    session, cuda, _ = fake_session()
    with pytest.raises(TrtmatteError, match=match):
        session.run(np.zeros(shape, np.uint8))


def test_close_frees_everything_once():
    session, cuda, _ = fake_session(contexts=2, cuda_graphs=True)
    session.run(images(1, 32, 32))
    session.close()
    session.close()
    assert cuda.memory == {}
    with pytest.raises(TrtmatteError, match="closed"):
        session.run(images(1, 32, 32))


def test_not_a_whole_pipeline_engine():
    from trtmatte.runtime.buffers import TensorSpec
    from trtmatte.runtime.session import SessionInfo
    from trtmatte.runtime.tensorrt_session import TensorRTSession

    from helpers.fake_cuda import FakeCuda, FakeEngineLayer
    cuda = FakeCuda()
    layer = FakeEngineLayer(cuda, PROFILE)
    layer.tensors = [TensorSpec("input", True, np.dtype(np.float32), (-1, 3, -1, -1))] + layer.tensors[1:]
    with pytest.raises(TrtmatteError, match="not a trtmatte whole-pipeline graph"):
        TensorRTSession(layer, cuda=cuda, profile=PROFILE, info=SessionInfo("tensorrt", "fp32", "x", "y", "z"))


# ---- trimap models: the second input is staged, uploaded and checked like the first ------------

def trimaps(n, h, w, seed=0):
    return np.random.default_rng(seed).choice(np.array([0, 128, 255, 30, 200], np.uint8), (n, h, w))


def test_trimap_engine_stages_the_second_input_once_allocated():
    from helpers.fake_cuda import TRIMAP_PROFILE

    session, cuda, layer = fake_session(profile=TRIMAP_PROFILE, contexts=2)
    assert session.needs_trimap and session.input_names == ["image", "trimap"]
    # image, trimap and alpha: one device and one pinned buffer each, per slot
    assert cuda.allocations["device"] == 3 * 2 and cuda.allocations["pinned"] == 3 * 2
    assert session.plan["trimap"].max_shape == (2, 96, 128) and session.plan["trimap"].dtype == np.uint8
    before = dict(cuda.allocations)
    for i, (n, h, w) in enumerate([(1, 16, 16), (2, 96, 128), (1, 50, 70)]):
        x, t = images(n, h, w, i), trimaps(n, h, w, i)
        want = np.where(t > 170, 255, np.where(t < 85, 0, expected(x)))
        assert np.array_equal(session.run_raw(x, t)["alpha"], want)
    assert dict(cuda.allocations) == before
    # two H2D copies a call (image, trimap) before the execution
    names = [op for op, _ in cuda.ops[-8:]]
    assert names == ["event", "h2d", "h2d", "event", "execute", "event", "d2h", "event"]


def test_trimap_engine_through_the_pipeline_with_batches():
    from trtmatte.runtime.pipelined import Pipeline
    from trtmatte.runtime.session import Batch

    from helpers.fake_cuda import TRIMAP_PROFILE

    session, _, _ = fake_session(profile=TRIMAP_PROFILE, contexts=2)
    items = [Batch(images(1, 32, 40, i), trimaps(1, 32, 40, i)) for i in range(5)]
    results = list(Pipeline(session).run(items))
    for item, result in zip(items, results):
        want = np.where(item.trimap > 170, 255, np.where(item.trimap < 85, 0, expected(item.images))) / 255.0
        assert result.ok and np.allclose(result.value, want)


@pytest.mark.parametrize("trimap,match", [
    (None, "needs a trimap"),
    (np.zeros((1, 32, 30), np.uint8), "the trimap is 30x32 but the image is 40x32"),
    (np.zeros((1, 32, 40), np.float32), "must be a uint8"),
    (np.zeros((2, 32, 40), np.uint8), "2 trimap.s. for 1 image"),
])
def test_trimap_engine_bad_trimaps_are_one_line(trimap, match):
    from helpers.fake_cuda import TRIMAP_PROFILE

    session, _, _ = fake_session(profile=TRIMAP_PROFILE)
    with pytest.raises(TrtmatteError, match=match) as err:
        session.run(images(1, 32, 40), trimap)
    assert "\n" not in str(err.value)


def test_a_trimap_to_a_trimap_free_engine_is_one_line():
    session, _, _ = fake_session()
    assert not session.needs_trimap
    with pytest.raises(TrtmatteError, match="takes no trimap"):
        session.run(images(1, 32, 40), np.zeros((1, 32, 40), np.uint8))
