"""Matte a video: every frame of a clip through a matte function, α as a grey video or a composite.

Frames are streamed (decode → matte ``batch`` frames → smooth → render → encode), so memory does
not grow with the clip's length. Reading and writing are :mod:`trtmatte.media.video`'s
(:class:`~trtmatte.media.video.VideoReader`, :class:`~trtmatte.media.video.VideoWriter`): the
output keeps the source's frame rate, timestamps, upright size and first audio stream. The file
appears at ``dst`` only when it is complete (:func:`trtmatte.fileio.atomic_output`): an error or
Ctrl-C mid-video leaves nothing behind.

    from trtmatte import Matter, jobs
    with Matter() as matter:
        report = jobs.matte_video(matter, "clip.mp4", "clip_alpha.mp4", smooth=0.6)

This is the job behind ``trtmatte matte clip.mp4``; the runtime (``Matter``) does not import it.
"""
from __future__ import annotations

import fractions
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import compose
from .._lazy import require
from ..errors import TrtmatteError
from ..fileio import atomic_output
from ..media.video import MUXERS, VIDEO_SUFFIXES, VideoError, VideoReader, VideoWriter, one_line
from .outputs import VIDEO_OUTPUT_TYPES


Matte = Callable[[np.ndarray], np.ndarray]


@dataclass
class VideoReport:
    """What :func:`matte_video` did."""

    frames: int
    seconds: float  # wall-clock time of the whole job
    fps: fractions.Fraction
    audio: str  # "copied", "none", or the note saying why it was dropped
    output_type: str
    smooth: float
    width: int = 0
    height: int = 0
    duration: float = 0.0  # seconds of video written (from the timestamps)
    codec: str = ""
    pix_fmt: str = ""
    smooth_seconds: float = 0.0  # time spent in the temporal smoothing
    notes: list[str] = field(default_factory=list)  # one line each: dropped audio, odd size, ...
    corrupt_frames: int = 0  # frames decoded from corrupt packets (the decoder concealed the damage)
    warnings: list[str] = field(default_factory=list)  # one line each: corrupt packets


class AlphaSmoother:
    """Exponential moving average of α over time: α̃ₜ = (1−s)·αₜ + s·α̃ₜ₋₁, with α̃₀ = α₀.

    ``s`` in [0, 1): 0 is off; larger is steadier and slower to follow motion (a step change is
    90% followed after log(0.1)/log(s) frames: 2.6 at s=0.4, 4.5 at 0.6, 10.9 at 0.8). It keeps one
    float32 [H, W] buffer and updates it in place as αₜ + s·(α̃ₜ₋₁ − αₜ) (the same value, with no
    temporary array). The array returned is that buffer: use it before the next call, or copy it.
    """

    def __init__(self, s: float):
        if not 0.0 <= s < 1.0 or not math.isfinite(s):
            raise TrtmatteError(f"--smooth must be in [0, 1) (0 is off, 0.6 is steady), got {s}")
        self.s = float(s)
        self.state: np.ndarray | None = None

    def reset(self) -> None:
        self.state = None

    def __call__(self, alpha: np.ndarray) -> np.ndarray:
        alpha = np.asarray(alpha, np.float32)
        if self.s == 0.0:
            return alpha
        if self.state is None or self.state.shape != alpha.shape:
            self.state = alpha.copy()
            return self.state
        state = self.state
        np.subtract(state, alpha, out=state)
        state *= np.float32(self.s)
        state += alpha
        return state


def matte_video(matte_frames: Matte, src: str | os.PathLike, dst: str | os.PathLike, *,
                output_type: str = "alpha", background=None, smooth: float = 0.0,
                batch: int = 1, progress: Callable[[int], None] | None = None, strict: bool = False) -> VideoReport:
    """Matte every frame of the video ``src`` and write ``dst`` (format from its suffix).

    ``matte_frames`` maps uint8 RGB frames [N, H, W, 3] to float32 α [N, H, W] in [0, 1] (a
    :class:`trtmatte.runtime.matter.Matter` does); it gets ``batch`` frames at a time (fewer at
    the end). ``output_type`` is ``alpha`` (a grey video) or ``composite`` (RGB over
    ``background``, white by default: anything :func:`trtmatte.compose.as_background` takes, a
    colour name, '#rrggbb', 'r,g,b', an (r, g, b) tuple, an image path or array). ``smooth`` in [0, 1) is :class:`AlphaSmoother`'s ``s``.
    ``progress(frames_done)`` is called after each frame is encoded. Frames the decoder flags as
    corrupt (damaged packets it concealed: they may be garbled) are counted in the report with one
    warning; ``strict`` makes them an error (nothing written).
    """
    av = require("av", "video input and output")
    src, dst = Path(src), Path(dst)
    start = time.perf_counter()
    if output_type not in VIDEO_OUTPUT_TYPES:
        raise VideoError(f"output type {output_type!r} cannot be a video: video output is "
                         f"{' or '.join(VIDEO_OUTPUT_TYPES)} (rgba and fg need per-frame images)")
    if not isinstance(batch, int) or batch < 1:
        raise VideoError(f"batch must be a positive integer, got {batch!r}")
    smoother = AlphaSmoother(smooth)
    background = compose.as_background(background)
    if dst.suffix.lower() not in MUXERS:
        raise VideoError(f"cannot write {dst}: unknown video suffix {dst.suffix!r} "
                         f"(use {', '.join(VIDEO_SUFFIXES[:-1])} or {VIDEO_SUFFIXES[-1]})")
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise VideoError(f"cannot write {dst}: it is the input video (choose another output)")
    if output_type == "composite":  # fail before decoding anything
        require("pymatting", "cutouts and composites (foreground colour estimation)")

    with VideoReader(src) as reader:
        report = VideoReport(frames=0, seconds=0.0, fps=reader.rate, audio="none", output_type=output_type,
                             smooth=float(smooth))
        with atomic_output(dst) as tmp:
            writer = VideoWriter(tmp, dst, reader.video, reader.audio, reader.rate, output_type)
            try:
                _run(av, reader, writer, matte_frames, output_type, background, smoother, batch, progress, report)
                reader.check_complete()
                report.corrupt_frames = reader.corrupt
                if reader.corrupt:
                    damage = (f"{reader.corrupt} of {report.frames} frames were decoded from corrupt packets (the "
                              "decoder concealed the damage: they may be garbled)")
                    if strict:
                        raise VideoError(f"cannot read video {src}: {damage}; nothing written (--strict)")
                    report.warnings.append(f"{damage}; --strict makes this an error")
                try:
                    writer.finish()
                except av.FFmpegError as exc:
                    raise VideoError(f"cannot write video {dst}: {one_line(exc)}") from None
            except BaseException:
                writer.abandon()
                raise
        report.audio = writer.audio_note
        report.width, report.height = writer.width, writer.height
        report.codec, report.pix_fmt = writer.encoding.codec, writer.encoding.pix_fmt
        report.notes.extend(writer.notes)
        if writer.audio_note.startswith("audio dropped"):
            report.notes.insert(0, writer.audio_note)
        report.duration = float(writer.end - writer.first) if writer.first is not None else 0.0
    report.seconds = time.perf_counter() - start
    return report


def _run(av, reader: VideoReader, writer: VideoWriter, matte_frames: Matte, output_type: str, background,
         smoother: AlphaSmoother, batch: int, progress, report: VideoReport) -> None:
    """Decode, matte, smooth, render and encode every frame."""
    src, dst = reader.path, writer.dst
    frames: list[np.ndarray] = []
    stamps: list[tuple[int | None, int]] = []
    bg = background

    def flush() -> None:
        nonlocal bg
        first = report.frames
        which = f"frame {first}" if len(frames) == 1 else f"frames {first}-{first + len(frames) - 1}"
        try:
            alphas = matte_frames(np.stack(frames))
        except Exception as exc:
            raise VideoError(f"matting {src} failed at {which}: {one_line(exc)}") from exc
        alphas = np.asarray(alphas)
        if alphas.dtype == np.uint8:  # a graph exported with uint8 α: 0..255
            alphas = alphas.astype(np.float32) / np.float32(255.0)
        if alphas.shape != (len(frames),) + frames[0].shape[:2]:
            raise VideoError(f"matting {src} failed at {which}: expected alpha {[len(frames), *frames[0].shape[:2]]}, "
                             f"got {list(alphas.shape)}")
        if writer.video is None:
            height, width = frames[0].shape[:2]
            writer.open_video(width, height)
            if output_type == "composite" and bg is not None and bg.image is not None:
                bg = compose.Background(color=None, image=compose.to_uint8(bg.at(height, width)))  # resize once
        for image, alpha, (pts, duration) in zip(frames, alphas, stamps):
            t0 = time.perf_counter()
            alpha = smoother(alpha)
            report.smooth_seconds += time.perf_counter() - t0
            try:
                picture = compose.render(output_type, image, alpha, bg)
            except TrtmatteError as exc:
                raise VideoError(f"matting {src} failed at frame {report.frames}: {one_line(exc)}") from exc
            try:
                writer.encode(picture, pts, duration, report.frames)
            except av.FFmpegError as exc:
                raise VideoError(f"cannot write video {dst} at frame {report.frames}: {one_line(exc)}") from None
            report.frames += 1
            if progress is not None:
                progress(report.frames)
        frames.clear()
        stamps.clear()

    on_audio = writer.add_audio if writer.src_audio is not None else None
    try:
        for rgb, pts, duration in reader.frames(on_audio):
            frames.append(rgb)
            stamps.append((pts, duration))
            if len(frames) == batch:
                flush()
        if frames:
            flush()
    finally:
        frames.clear()
    if report.frames == 0:
        raise VideoError(f"cannot read video {src}: no frame could be decoded")
