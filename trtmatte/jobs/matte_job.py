"""Matte many inputs: decode ahead, infer, render and write behind, one outcome per item.

Images stream through :class:`~trtmatte.runtime.pipelined.Pipeline`: a thread pool decodes the
next few images while the backend works on the current one (the look-ahead is bounded, so memory
stays flat for any number of files), and a second pool renders (foreground estimation for cutouts
and composites) and writes the results while the backend goes on. A bad input fails alone, with a
one-line reason; every output is written to a temporary name and renamed, so an interrupted run
leaves only complete files. Videos are matted frame by frame after the images (trtmatte/jobs/video_job.py).
For a trimap model each image is decoded with its trimap (WorkItem.trimap) and both travel to the
backend as one Batch; a trimap-based model without trimaps (--trimap auto wraps it into a
trimap-free session) fails each video in one line.
"""
from __future__ import annotations

import collections
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from ..compose import OUTPUT_TYPES, Background, as_background, render
from ..errors import TrtmatteError
from ..media.image import DEFAULT_MAX_PIXELS, ImageError, read_rgb, read_trimap, write_image
from ..runtime.session import Batch
from .inputs import UNSUPPORTED, WorkItem
from .outcomes import OUTCOMES, JobInterrupted, Outcome, Summary, describe  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class MatteJobOptions:
    """Checked when made (before any inference), one line per bad value. ``background``: anything
    :func:`trtmatte.compose.as_background` takes (a colour name, '#rrggbb', 'r,g,b', a tuple, an
    image path or array)."""

    output_type: str = "alpha"
    background: Background | None = None
    skip_existing: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS  # None or 0: no limit
    jobs: int = 2  # decode threads, and as many render/write threads
    smooth: float = 0.0  # video only: temporal smoothing of alpha
    strict: bool = False  # video only: frames decoded from corrupt packets fail the video (else: a warning)

    def __post_init__(self):
        if self.output_type not in OUTPUT_TYPES:
            raise TrtmatteError(f"unknown output type {self.output_type!r}: choose one of {', '.join(OUTPUT_TYPES)}")
        if self.max_pixels is not None and (isinstance(self.max_pixels, bool) or self.max_pixels < 0):
            raise TrtmatteError(f"--max-pixels must be 0 (no limit) or a positive pixel count, got {self.max_pixels}")
        if self.jobs < 1:
            raise TrtmatteError(f"--jobs must be at least 1, got {self.jobs}")
        if not 0.0 <= self.smooth < 1.0:
            raise TrtmatteError(f"--smooth must be in [0, 1), got {self.smooth}")
        object.__setattr__(self, "background", as_background(self.background))


class _WithInputs:
    """A pipeline backend that hands back each batch with its alpha (the renderer needs the image),
    copying alpha out of backends that return views of reused buffers."""

    def __init__(self, backend):
        self.backend, self.contexts = backend, backend.contexts
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
                 frame_progress: Callable[[int], None] | None = None,
                 retry: Callable[[Outcome], bool] | None = None):
        """``report`` gets every outcome as it happens; ``frame_progress(frames done)`` follows a
        video; ``retry(outcome)`` is asked about each input that could not be decoded: True means
        the caller will try it again (``--watch``: a file still being copied), so the outcome is
        neither counted nor reported. Ctrl-C raises :class:`JobInterrupted` carrying the summary."""
        self.matter, self.options = matter, options or MatteJobOptions()
        self.report = report or (lambda outcome: None)
        self.frame_progress = frame_progress
        self.retry = retry or (lambda outcome: False)

    def run(self, items: Iterable[WorkItem]) -> Summary:
        summary = Summary()
        start = time.perf_counter()
        videos: list[WorkItem] = []

        def emit(outcome: Outcome) -> None:
            if outcome.unreadable and self.retry(outcome):
                return
            summary.add(outcome)
            self.report(outcome)

        def images() -> Iterator[WorkItem]:
            for item in items:
                if item.kind == UNSUPPORTED:
                    emit(Outcome(item, "unsupported", item.error or f"{item.source}: unsupported type"))
                elif item.error:
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
        except KeyboardInterrupt as exc:
            summary.seconds = time.perf_counter() - start
            raise JobInterrupted(summary) from exc
        summary.seconds = time.perf_counter() - start
        return summary

    # ------------------------------------------------------------------ images
    def _run_images(self, items: Iterator[WorkItem], emit: Callable[[Outcome], None]) -> None:
        from ..runtime.pipelined import Pipeline, as_submitter

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
        pipeline = Pipeline(_WithInputs(as_submitter(self.matter.session)), decode, workers=opts.jobs,
                            copy_results=False)
        with ThreadPoolExecutor(max(1, opts.jobs), thread_name_prefix="trtmatte-write") as pool:
            try:
                for result in pipeline.run(numbered()):
                    item = by_index.pop(result.index)
                    if not result.ok:
                        emit(Outcome(item, "failed", describe(result.error, item.source),
                                     unreadable=isinstance(result.error, ImageError)))
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
        from .video_job import matte_video

        opts = self.options
        if getattr(self.matter, "needs_trimap", False):
            return Outcome(item, "failed", f"{item.source}: {self.matter.info.variant} needs a trimap for every frame: "
                                           "use --trimap auto (Late Fusion derives one per frame)")
        try:
            item.target.parent.mkdir(parents=True, exist_ok=True)
            report = matte_video(self.matter, item.source, item.target, output_type=opts.output_type,
                                 background=opts.background, smooth=opts.smooth, progress=self.frame_progress,
                                 strict=opts.strict)
        except TrtmatteError as exc:
            return Outcome(item, "failed", describe(exc, item.source), unreadable="cannot read video" in str(exc))
        return Outcome(item, "done", frames=report.frames, notes=tuple(f"{item.source}: {n}" for n in report.notes),
                       warnings=tuple(f"{item.source}: {w}" for w in report.warnings))
