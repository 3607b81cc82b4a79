"""Matte many inputs: decode ahead, infer, render and write behind, one outcome per item.

Images stream through :class:`~trtmatte.runtime.pipelined.Pipeline`: a thread pool decodes the
next few images while the backend works on the current one (the look-ahead is bounded, so memory
stays flat for any number of files), and a second pool renders (foreground estimation for cutouts
and composites) and writes the results while the backend goes on. A bad input fails alone, with a
one-line reason; every output is written to a temporary name and renamed, so an interrupted run
leaves only complete files. Videos are matted frame by frame after the images (trtmatte/video.py).
For a trimap model each image is decoded with its trimap (WorkItem.trimap) and both travel to the
backend as one Batch; a trimap-based model without trimaps (--trimap auto wraps it into a
trimap-free session) fails each video in one line.
"""
from __future__ import annotations

import collections
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from ..compose import Background, render
from ..errors import TrtmatteError
from ..imageio import DEFAULT_MAX_PIXELS, read_rgb, write_image
from ..runtime.session import Batch
from ..trimap import read_trimap
from .inputs import WorkItem

OUTCOMES = ("done", "skipped", "failed")


@dataclass(frozen=True)
class MatteJobOptions:
    output_type: str = "alpha"
    background: Background | None = None
    skip_existing: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    jobs: int = 2  # decode threads, and as many render/write threads
    smooth: float = 0.0  # video only: temporal smoothing of alpha


@dataclass(frozen=True)
class Outcome:
    item: WorkItem
    status: str  # done / skipped / failed
    error: str = ""
    frames: int = 1  # images count 1; videos their frame count
    notes: tuple[str, ...] = ()  # what a video's encoding decided (audio dropped, odd size, ...)


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    failed: int = 0
    frames: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if outcome.status == "done":
            self.frames += outcome.frames
        if outcome.status == "failed":
            self.failures.append(outcome.error)

    def merge(self, other: "Summary") -> None:
        for name in ("done", "skipped", "failed", "frames", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures

    @property
    def per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"done {self.done}, skipped {self.skipped}, failed {self.failed} in {self.seconds:.1f} s "
                f"({self.per_second:.2f} images/s)")


def describe(error: BaseException, source: Path) -> str:
    """One line naming the input and the problem."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if not isinstance(error, TrtmatteError):
        text = f"{type(error).__name__}: {text}"
    return text if str(source) in text else f"{source}: {text}"


class _WithInputs:
    """A pipeline backend that hands back each batch with its alpha (the renderer needs the image),
    copying alpha out of backends that return views of reused buffers."""

    def __init__(self, backend):
        self.backend, self.slots = backend, backend.slots
        self.copy = getattr(backend, "returns_views", False)
        self._inputs: dict[int, np.ndarray] = {}

    def submit(self, slot: int, batch) -> None:
        self._inputs[slot] = Batch.of(batch).images
        self.backend.submit(slot, batch)

    def collect(self, slot: int):
        alpha = self.backend.collect(slot)
        return self._inputs.pop(slot), (alpha.copy() if self.copy else alpha)


class MatteJob:
    def __init__(self, matter, options: MatteJobOptions | None = None,
                 report: Callable[[Outcome], None] | None = None,
                 frame_progress: Callable[[int], None] | None = None):
        """``report`` gets every outcome as it happens; ``frame_progress(frames done)`` follows a video."""
        self.matter, self.options = matter, options or MatteJobOptions()
        self.report = report or (lambda outcome: None)
        self.frame_progress = frame_progress

    def run(self, items: Iterable[WorkItem]) -> Summary:
        summary = Summary()
        start = time.perf_counter()
        videos: list[WorkItem] = []

        def emit(outcome: Outcome) -> None:
            summary.add(outcome)
            self.report(outcome)

        def images() -> Iterator[WorkItem]:
            for item in items:
                if item.error:
                    emit(Outcome(item, "failed", item.error))
                elif self.options.skip_existing and item.target.exists():
                    emit(Outcome(item, "skipped"))
                elif item.kind == "video":
                    videos.append(item)  # after the images: a video occupies the backend for a while
                else:
                    yield item

        try:
            self._run_images(images(), emit)
            for item in videos:
                emit(self._run_video(item))
        finally:
            summary.seconds = time.perf_counter() - start
        return summary

    # ------------------------------------------------------------------ images
    def _run_images(self, items: Iterator[WorkItem], emit: Callable[[Outcome], None]) -> None:
        from ..runtime.pipelined import Pipeline, as_backend

        opts = self.options
        by_index: dict[int, WorkItem] = {}

        def numbered() -> Iterator[WorkItem]:
            for index, item in enumerate(items):
                by_index[index] = item
                yield item

        def decode(item: WorkItem):
            image = read_rgb(item.source, opts.max_pixels)[None]
            if item.trimap is None:
                return image
            return Batch(image, read_trimap(item.trimap)[None])

        writes: collections.deque[tuple[WorkItem, Future]] = collections.deque()
        pipeline = Pipeline(_WithInputs(as_backend(self.matter.session)), decode, workers=opts.jobs,
                            copy_results=False)
        with ThreadPoolExecutor(max(1, opts.jobs), thread_name_prefix="trtmatte-write") as pool:
            try:
                for result in pipeline.run(numbered()):
                    item = by_index.pop(result.index)
                    if not result.ok:
                        emit(Outcome(item, "failed", describe(result.error, item.source)))
                        continue
                    image, alpha = result.value
                    writes.append((item, pool.submit(self._write, item, image[0], alpha[0])))
                    while len(writes) > 2 * max(1, opts.jobs):  # bounded: rendered pictures are big
                        emit(self._finish(*writes.popleft()))
                while writes:
                    emit(self._finish(*writes.popleft()))
            except BaseException:
                for _, future in writes:  # Ctrl-C: drop queued writes; running ones finish (atomically)
                    future.cancel()
                raise

    def _write(self, item: WorkItem, image: np.ndarray, alpha: np.ndarray) -> None:
        picture = render(self.options.output_type, image, alpha, self.options.background)
        item.target.parent.mkdir(parents=True, exist_ok=True)
        write_image(item.target, picture)

    @staticmethod
    def _finish(item: WorkItem, future: Future) -> Outcome:
        try:
            future.result()
        except Exception as exc:  # a render or write failure is this item's, the rest go on
            return Outcome(item, "failed", describe(exc, item.source))
        return Outcome(item, "done")

    # ------------------------------------------------------------------ videos
    def _run_video(self, item: WorkItem) -> Outcome:
        from .. import video

        opts = self.options
        if getattr(self.matter, "needs_trimap", False):
            return Outcome(item, "failed", f"{item.source}: {self.matter.info.variant} needs a trimap for every frame: "
                                           "use --trimap auto (Late Fusion derives one per frame)")
        try:
            item.target.parent.mkdir(parents=True, exist_ok=True)
            report = video.matte_video(self.matter, item.source, item.target, output_type=opts.output_type,
                                       background=opts.background, smooth=opts.smooth, progress=self.frame_progress)
        except TrtmatteError as exc:
            return Outcome(item, "failed", describe(exc, item.source))
        return Outcome(item, "done", frames=report.frames, notes=tuple(f"{item.source}: {n}" for n in report.notes))
