"""Pipelined batch mode, independent of any backend.

Images are decoded and resized on a thread pool ahead of the GPU. A submitter with ``contexts`` sets of
buffers and streams (2: double buffering) gets item k+1 *submitted* (its upload enqueued) before
item k is *collected*, so while the GPU computes k on one stream, the upload of k+1 and the
download of k-1 run on the other. Results come back in input order; an item whose preparation,
submission or collection fails is reported with its error and the others go on.

A :class:`Submitter` is anything with ``contexts``, ``submit(context, batch)`` (enqueue, return
early) and ``collect(context)`` (wait, return the result): an :class:`~.session.InFlightSession`
(TensorRTSession, TorchSession on CUDA), or :class:`SerialSubmitter` around any session. A batch is an images array, or a
:class:`~.session.Batch` carrying the images and their trimap for a trimap model. Tests drive it
with fake stages.
"""
from __future__ import annotations

import collections
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Protocol

import numpy as np


class Submitter(Protocol):
    """What the pipeline feeds: ``contexts`` calls can be in flight at once."""

    contexts: int

    def submit(self, context: int, batch: np.ndarray) -> None: ...

    def collect(self, context: int) -> Any: ...


@dataclass
class ItemResult:
    index: int
    value: Any = None
    error: BaseException | None = None
    stage: str = ""  # where it failed: "prepare", "submit" or "collect"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class PipelineStats:
    trace: list[tuple[str, int]] = field(default_factory=list)  # ("submit"|"collect"|"error", index), in order
    max_in_flight: int = 0
    items: int = 0
    failed: int = 0
    wall_s: float = 0.0

    @property
    def images_per_s(self) -> float:
        return (self.items - self.failed) / self.wall_s if self.wall_s > 0 else 0.0


class SerialSubmitter:
    """Any MattingSession as a one-context Submitter (CPU sessions compute in submit)."""

    contexts = 1

    def __init__(self, session):
        self.session, self._result = session, None

    def submit(self, context: int, batch) -> None:
        from .session import Batch

        self._result = Batch.of(batch).call(self.session.run)

    def collect(self, context: int) -> Any:
        result, self._result = self._result, None
        return result


def as_submitter(session) -> Submitter:
    """The session itself where it can keep several calls in flight, else a SerialSubmitter."""
    if hasattr(session, "submit") and hasattr(session, "collect") and getattr(session, "contexts", 1) >= 1:
        return session
    return SerialSubmitter(session)


# Old names ("backend" now means only onnxruntime, torch or tensorrt), kept for one release.
PipelineBackend, SerialBackend, as_backend = Submitter, SerialSubmitter, as_submitter


class Pipeline:
    def __init__(self, submitter: Submitter, prepare: Callable[[Any], np.ndarray] | None = None,
                 workers: int = 2, prefetch: int | None = None, copy_results: bool | None = None):
        self.submitter, self.prepare, self.workers = submitter, prepare, max(1, workers)
        # How far decoding runs ahead of the GPU: enough to keep every slot fed.
        self.prefetch = prefetch or (self.workers + submitter.contexts)
        # A submitter that returns views of its pinned buffers reuses them: copy before the slot's next call.
        self.copy_results = getattr(submitter, "returns_views", False) if copy_results is None else copy_results
        self.stats = PipelineStats()

    def run(self, items: Iterable[Any]) -> Iterator[ItemResult]:
        """Yield one ItemResult per item, in input order."""
        stats = self.stats = PipelineStats()
        start = time.perf_counter()
        source = enumerate(items)
        waiting: collections.deque[tuple[int, Future | Any]] = collections.deque()
        in_flight: collections.deque[tuple[int, int]] = collections.deque()  # (index, slot), oldest first
        free = collections.deque(range(self.submitter.contexts))
        done: dict[int, ItemResult] = {}
        next_out = 0

        def fill(pool):
            while len(waiting) < self.prefetch:
                nxt = next(source, None)
                if nxt is None:
                    return
                index, item = nxt
                stats.items += 1
                waiting.append((index, pool.submit(self.prepare, item) if self.prepare else item))

        def fail(index: int, exc: BaseException, stage: str) -> None:
            done[index] = ItemResult(index, error=exc, stage=stage)
            stats.failed += 1
            stats.trace.append(("error", index))

        def retire_oldest() -> None:
            index, slot = in_flight.popleft()
            try:
                value = self.submitter.collect(slot)
                if self.copy_results and isinstance(value, np.ndarray):
                    value = value.copy()
                done[index] = ItemResult(index, value)
                stats.trace.append(("collect", index))
            except Exception as exc:  # one bad item must not stall the rest
                fail(index, exc, "collect")
            free.append(slot)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="trtmatte-prepare") as pool:
            fill(pool)
            while waiting or in_flight:
                if waiting:
                    index, pending = waiting.popleft()
                    fill(pool)
                    try:
                        batch = pending.result() if isinstance(pending, Future) else pending
                    except Exception as exc:
                        fail(index, exc, "prepare")
                        batch = None
                    if batch is not None:
                        if not free:
                            retire_oldest()  # the slot of item k-slots: its results are taken first
                        slot = free.popleft()
                        try:
                            self.submitter.submit(slot, batch)
                            in_flight.append((index, slot))
                            stats.trace.append(("submit", index))
                            stats.max_in_flight = max(stats.max_in_flight, len(in_flight))
                        except Exception as exc:
                            free.appendleft(slot)
                            fail(index, exc, "submit")
                else:
                    retire_oldest()
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
        stats.wall_s = time.perf_counter() - start
