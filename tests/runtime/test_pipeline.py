"""Pipelined batch mode with fake stages: input order, overlap bookkeeping, error isolation."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from trtmatte.runtime.pipelined import Pipeline, SerialSubmitter, as_submitter

from helpers.fake_cuda import fake_session


class FakeGpu:
    """A two-context submitter that records what is in flight when each call happens."""

    def __init__(self, slots=2, fail_submit=(), fail_collect=()):
        self.contexts, self.fail_submit, self.fail_collect = slots, set(fail_submit), set(fail_collect)
        self.in_slot, self.log, self.max_busy = {}, [], 0

    def submit(self, slot, batch):
        assert slot not in self.in_slot, "a slot was reused before its result was collected"
        if int(batch[0]) in self.fail_submit:
            raise ValueError(f"bad item {int(batch[0])}")
        self.in_slot[slot] = int(batch[0])
        self.max_busy = max(self.max_busy, len(self.in_slot))
        self.log.append(("submit", int(batch[0]), sorted(self.in_slot.values())))

    def collect(self, slot):
        item = self.in_slot.pop(slot)
        self.log.append(("collect", item))
        if item in self.fail_collect:
            raise RuntimeError(f"device failure on {item}")
        return np.array([item * 10])


def prepare(i):
    if i == 3:
        raise OSError("cannot decode item 3")
    time.sleep(0.002 * (i % 3))  # uneven decode times: the pool finishes out of order
    return np.array([i])


def test_results_in_input_order_and_next_upload_before_previous_download():
    gpu = FakeGpu()
    pipe = Pipeline(gpu, prepare, workers=3)
    results = list(pipe.run(range(8)))
    assert [r.index for r in results] == list(range(8))
    assert [int(r.value[0]) for r in results if r.ok] == [0, 10, 20, 40, 50, 60, 70]
    # item k+1 is submitted while item k is still in flight: that is the overlap
    submits = [entry for entry in gpu.log if entry[0] == "submit"]
    assert submits[1] == ("submit", 1, [0, 1])
    assert gpu.max_busy == 2 == pipe.stats.max_in_flight
    trace = [t for t in pipe.stats.trace if t[0] != "error"]
    assert trace[:4] == [("submit", 0), ("submit", 1), ("collect", 0), ("submit", 2)]


def test_errors_reported_per_item_without_stalling_others():
    gpu = FakeGpu(fail_submit={5}, fail_collect={6})
    results = list(Pipeline(gpu, prepare, workers=2).run(range(9)))
    failed = {r.index: (r.stage, type(r.error).__name__) for r in results if not r.ok}
    assert failed == {3: ("prepare", "OSError"), 5: ("submit", "ValueError"), 6: ("collect", "RuntimeError")}
    assert [r.index for r in results] == list(range(9))
    assert [int(r.value[0]) for r in results if r.ok] == [0, 10, 20, 40, 70, 80]
    assert not gpu.in_slot  # every slot was collected or never taken


def test_decode_runs_ahead_on_the_thread_pool():
    seen = set()

    def slow_prepare(i):
        seen.add(threading.current_thread().name)
        time.sleep(0.01)
        return np.array([i])
    start = time.perf_counter()
    results = list(Pipeline(FakeGpu(), slow_prepare, workers=4).run(range(16)))
    assert len(results) == 16 and all(r.ok for r in results)
    assert len(seen) > 1 and all(n.startswith("trtmatte-prepare") for n in seen)
    assert time.perf_counter() - start < 16 * 0.01  # faster than decoding one by one


def test_serial_submitter_wraps_any_session():
    class Doubler:
        def run(self, batch):
            return batch * 2
    submitter = as_submitter(Doubler())
    assert isinstance(submitter, SerialSubmitter) and submitter.contexts == 1
    results = list(Pipeline(submitter).run([np.array([1]), np.array([2])]))
    assert [int(r.value[0]) for r in results] == [2, 4]


def test_fake_tensorrt_session_pipelined_end_to_end():
    session, cuda, layer = fake_session(contexts=2)
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, 256, (1, 16 + 8 * (i % 4), 32, 3), dtype=np.uint8) for i in range(7)]
    batches[4] = np.zeros((1, 500, 32, 3), np.uint8)  # outside the profile: fails alone
    before = dict(cuda.allocations)
    results = list(Pipeline(as_submitter(session)).run(batches))
    assert dict(cuda.allocations) == before
    assert [r.ok for r in results] == [True] * 4 + [False] + [True] * 2
    assert "outside the engine's profile" in str(results[4].error)
    for r, b in zip(results, batches):
        if r.ok:  # copies, not views: each survives later calls on its slot
            assert np.allclose(r.value, np.rint(b.astype(np.float32).mean(-1)) / 255)
    # uploads alternate between the two streams
    h2d_streams = [s for op, s in cuda.ops if op == "h2d"]
    assert len(set(h2d_streams)) == 2 and h2d_streams[0] != h2d_streams[1]


@pytest.mark.parametrize("slots", [1, 3])
def test_any_slot_count(slots):
    gpu = FakeGpu(slots=slots)
    results = list(Pipeline(gpu, lambda i: np.array([i])).run(range(10)))
    assert [int(r.value[0]) for r in results] == [i * 10 for i in range(10)]
    assert gpu.max_busy == slots
