"""Videos in and out with PyAV: probing, reading frames upright, choosing the encoding, writing.

:class:`VideoReader` streams a clip's frames (decoded to RGB, with the stream's rotation applied:
a phone's portrait clip comes out upright) and hands its first audio stream's packets on;
:class:`VideoWriter` writes a video at the source's frame rate and timestamps (so its duration and
its sync with the audio are the source's), copying the audio packet for packet where the output
container can hold that codec. The matting loop that joins the two is
:func:`trtmatte.jobs.video_job.matte_video`.

Codecs (chosen by the output's suffix, from what the FFmpeg inside PyAV has):

* ``.mp4 .m4v .mov .mkv``: H.264 (libx264), yuv420p; mpeg4 (Part 2) where libx264 is missing.
* ``.webm``: VP9 (libvpx-vp9); VP8 where VP9 is missing.
* ``.avi``: mpeg4 (Part 2), the codec AVI players expect.

α is written as the luma plane of a grey picture (chroma flat at 128), full range where the
codec signals range in its own bitstream (H.264, VP9), so a decoder gives α back with only the
codec's loss; mpeg4 (AVI) is written in limited range, which every decoder reads right. 4:2:0
needs even sizes in H.264: an odd-sized clip keeps its size and is encoded 4:0:0 (α) or 4:4:4
(composite) instead, with a note. docs/video.md has the measured tolerances.

PyAV (``pip install 'trtmatte[video]'``) is imported only when a video is read or written.
"""
from __future__ import annotations

import contextlib
import fractions
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .._lazy import require
from ..errors import TrtmatteError

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")

# suffix -> FFmpeg muxer (given explicitly: the temporary file is named *.part)
MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# suffix -> encoders to try, best first
ENCODERS = {".mp4": ("libx264", "mpeg4"), ".m4v": ("libx264", "mpeg4"), ".mov": ("libx264", "mpeg4"),
            ".mkv": ("libx264", "mpeg4"), ".webm": ("libvpx-vp9", "libvpx"), ".avi": ("mpeg4",)}
# Constant-quality settings. α gets more bits than a composite: it is data for a compositor, not
# only something to watch (docs/video.md: the error each gives).
X264_CRF = {"alpha": 15, "composite": 18}
VP9_CRF = {"alpha": 20, "composite": 28}
MPEG4_QSCALE = 2  # 2..31, 2 the best


class VideoError(TrtmatteError):
    """A video cannot be read or written (missing, unreadable, no video stream, ...)."""


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a video by its suffix (the file need not exist)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def _av():
    return require("av", "video input and output")


def one_line(exc: BaseException) -> str:
    """An exception as one short line (FFmpeg's errors: their reason, without errno and call)."""
    text = getattr(exc, "strerror", None) if _is_ffmpeg_error(exc) else None
    text = " ".join(str(text or exc).split())
    return text or type(exc).__name__


def _is_ffmpeg_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("av.")


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` finds. ``width``/``height`` are as displayed (rotation applied)."""

    width: int
    height: int
    fps: fractions.Fraction
    frames: int | None  # None where the container does not say (Matroska, WebM)
    has_audio: bool
    codec: str
    audio_codec: str | None = None
    rotation: int = 0  # degrees counter-clockwise that the display applies to the coded frames
    duration: float | None = None  # seconds, where known


# -- reading ---------------------------------------------------------------------------------

def _open_input(path: Path):
    av = _av()
    if not path.is_file():
        raise VideoError(f"video {path} not found" if not path.exists() else f"video {path} is not a file")
    if path.stat().st_size == 0:
        raise VideoError(f"cannot read video {path}: the file is empty")
    try:
        return av.open(str(path), "r")
    except av.FFmpegError as exc:
        raise VideoError(f"cannot read video {path}: FFmpeg cannot open it ({one_line(exc)}: "
                         f"truncated, or not a video?)") from None


def _video_stream(container, path: Path):
    av = _av()
    attached = getattr(getattr(av.stream, "Disposition", None), "attached_pic", 0)
    pictures = [s for s in container.streams.video  # cover art (an attached picture) is not video
                if not (attached and getattr(s, "disposition", 0) & attached)]
    if not pictures:
        raise VideoError(f"cannot read video {path}: it has no video stream (audio only?)")
    return pictures[0]


def _audio_stream(container):
    return container.streams.audio[0] if container.streams.audio else None


def _codec_name(stream) -> str:
    """The codec's own name ('mp3'), not its decoder's ('mp3float')."""
    ctx = stream.codec_context
    if ctx is None:
        return "unknown codec"
    return getattr(ctx.codec, "canonical_name", None) or ctx.name


def _frame_rate(stream) -> fractions.Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return fractions.Fraction(rate)
    return fractions.Fraction(25)


def _parse_clock(text: str | None) -> float | None:
    """Matroska's per-track DURATION tag, '00:00:00.480000000', in seconds."""
    try:
        h, m, sec = str(text).split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except (TypeError, ValueError):
        return None


def _expected_frames(container, stream, rate: fractions.Fraction) -> tuple[int | None, bool]:
    """How many frames the file says the stream has, and whether that count is exact (a header's
    frame count) or estimated from a duration."""
    if stream.frames:
        return stream.frames, True
    seconds = None
    if stream.duration and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
    if seconds is None:
        seconds = _parse_clock(stream.metadata.get("DURATION"))
    if seconds is None and container.duration:
        seconds = container.duration / 1e6  # the longest stream's: an estimate only
    if not seconds:
        return None, False
    return round(seconds * rate), False


def _rotation(frame) -> int:
    """The frame's display rotation, counter-clockwise, snapped to a multiple of 90 (0 if none)."""
    try:
        angle = getattr(frame, "rotation", 0) or 0
    except Exception:  # PyAV versions that fail on a missing display matrix
        return 0
    if not math.isfinite(angle):
        return 0
    return int(round(angle / 90.0)) * 90 % 360


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    return rgb if rotation == 0 else np.rot90(rgb, k=rotation // 90)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Size, frame rate, frame count, codec and audio of a video, with a one-line
    :class:`VideoError` for a missing file, one FFmpeg cannot open, or one with no video stream.
    Decodes the first frame (for its rotation, and to know the stream can be decoded)."""
    av = _av()
    path = Path(path)
    container = _open_input(path)
    with container:
        stream = _video_stream(container, path)
        audio = _audio_stream(container)
        rotation = 0
        try:
            for frame in container.decode(stream):
                rotation = _rotation(frame)
                break
            else:
                raise VideoError(f"cannot read video {path}: its video stream has no frames")
        except av.FFmpegError as exc:
            raise VideoError(f"cannot read video {path}: decoding failed at frame 0 ({one_line(exc)})") from None
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        duration = None
        if stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1e6
        return VideoInfo(width=width, height=height, fps=_frame_rate(stream), frames=stream.frames or None,
                         has_audio=audio is not None, codec=_codec_name(stream),
                         audio_codec=_codec_name(audio) if audio is not None else None,
                         rotation=rotation, duration=duration)


class VideoReader:
    """A clip's frames, decoded to upright uint8 RGB, with its first audio stream's packets handed
    on as they are demuxed (so a writer can interleave them). Counts what it read, for
    :meth:`check_complete`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.container = _open_input(self.path)
        self.video = _video_stream(self.container, self.path)
        self.audio = _audio_stream(self.container)
        self.video.thread_type = "AUTO"
        self.rate = _frame_rate(self.video)
        self.packets = 0  # video packets read
        self.decoded = 0  # video frames decoded
        self.corrupt = 0  # of them, frames the decoder flagged corrupt (damage concealed: maybe garbled)

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()

    def frames(self, on_audio: Callable | None = None) -> Iterator[tuple[np.ndarray, int | None, int]]:
        """(upright RGB [H, W, 3], pts, duration) per frame, in the source's time base; audio
        packets go to ``on_audio`` (not demuxed at all when it is None)."""
        av = _av()
        streams = [self.video] + ([self.audio] if on_audio is not None and self.audio is not None else [])
        rotation = None
        demuxed = self.container.demux(*streams)
        while True:
            try:
                packet = next(demuxed)
                if packet.stream is not self.video:
                    on_audio(packet)
                    continue
                self.packets += 1 if packet.size else 0
                decoded_frames = packet.decode()
            except StopIteration:
                return
            except av.FFmpegError as exc:
                raise VideoError(f"cannot read video {self.path}: decoding failed at frame {self.decoded} "
                                 f"({one_line(exc)})") from None
            for frame in decoded_frames:
                if rotation is None:
                    rotation = _rotation(frame)
                try:
                    rgb = frame.to_ndarray(format="rgb24")
                except av.FFmpegError as exc:
                    raise VideoError(f"cannot read video {self.path}: decoding failed at frame {self.decoded} "
                                     f"({one_line(exc)})") from None
                self.decoded += 1
                self.corrupt += bool(getattr(frame, "is_corrupt", False))
                yield _upright(rgb, rotation), frame.pts, frame.duration or 0

    def check_complete(self) -> None:
        """Demuxers stop quietly at a truncated or garbled end: compare with what the file announces,
        so a clip cut short is an error, not a silently shorter output. An index's frame count (MP4,
        MOV, AVI) is compared with the packets read, not the frames decoded: an edit list (a clip
        trimmed without re-encoding) makes the decoder drop frames the index still counts."""
        expected, exact = _expected_frames(self.container, self.video, self.rate)
        if not expected:
            return
        slack = 0 if exact else 2 + expected // 20  # a duration is an estimate (rounding, variable rate)
        if (self.packets if exact else self.decoded) < expected - slack:
            about = "" if exact else "about "
            raise VideoError(f"cannot read video {self.path}: decoding stopped at frame {self.decoded} of "
                             f"{about}{expected} (truncated or corrupt file); nothing written")


# -- writing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Encoding:
    codec: str
    pix_fmt: str
    full_range: bool  # grey α written 0..255 in Y (else 16..235)
    options: dict
    note: str | None = None
    # RGB -> YUV matrix: BT.709, tagged in the stream; mpeg4 cannot tag it in AVI, and decoders
    # read untagged MPEG-4 Part 2 as BT.601, so that is what it gets.
    bt709: bool = True


def _has_encoder(name: str) -> bool:
    av = _av()
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


def choose_encoding(suffix: str, width: int, height: int, output_type: str) -> Encoding:
    """The codec, pixel format and quality for a video written to ``suffix``."""
    suffix = suffix.lower()
    candidates = ENCODERS[suffix]
    codec = next((c for c in candidates if _has_encoder(c)), None)
    if codec is None:
        raise VideoError(f"cannot write {suffix} video: this FFmpeg (PyAV's) has none of the encoders "
                         f"{', '.join(candidates)} (try .mp4 or .avi)")
    notes = []
    if codec != candidates[0]:
        notes.append(f"{candidates[0]} is not in this FFmpeg build: encoded with {codec}")
    odd = width % 2 or height % 2
    if codec == "libx264":
        pix = "yuv420p"
        if odd:
            pix = "gray" if output_type == "alpha" else "yuv444p"
            notes.append(f"odd size {width}x{height}: H.264 4:2:0 needs even sizes, so encoded as {pix} "
                         f"(FFmpeg-based players such as VLC and mpv play it; browsers and QuickTime may not); "
                         f"crop the source to an even size for a widely playable file")
        # 'faster': the α error of 'medium' at 3/4 of its time (docs/video.md)
        options = {"crf": str(X264_CRF[output_type]), "preset": "faster"}
        return Encoding(codec, pix, True, options, "; ".join(notes) or None)
    if codec in ("libvpx-vp9", "libvpx"):
        crf = VP9_CRF[output_type] if codec == "libvpx-vp9" else 10
        # realtime/cpu-used 8: ~5x faster than 'good'/cpu-used 5 at the same α error, ~15% more bits
        options = {"crf": str(crf), "b": "0" if codec == "libvpx-vp9" else "20M", "deadline": "realtime",
                   "cpu-used": "8", "row-mt": "1"}
        return Encoding(codec, "yuv420p", True, options, "; ".join(notes) or None)
    # mpeg4 (Part 2): limited range, which AVI cannot flag otherwise; odd sizes are fine.
    return Encoding(codec, "yuv420p", False, {}, "; ".join(notes) or None, bt709=False)


def _plane(frame, index: int) -> np.ndarray:
    plane = frame.planes[index]
    rows = np.frombuffer(plane, np.uint8)[:plane.line_size * plane.height].reshape(plane.height, plane.line_size)
    return rows[:, :plane.width]


class VideoWriter:
    """The output container (written to ``tmp``, named ``dst`` in errors; the muxer from ``dst``'s
    suffix): a video encoder opened on the first frame, the source's audio packets copied."""

    def __init__(self, tmp: Path, dst: Path, src_video, src_audio, rate: fractions.Fraction, output_type: str):
        av = _av()
        fmt = MUXERS[dst.suffix.lower()]
        self.av, self.dst, self.output_type = av, dst, output_type
        self.width = self.height = 0
        self.notes: list[str] = []  # one line each: a fallback codec, an odd size
        self.src_video, self.rate = src_video, rate
        options = {"movflags": "+faststart"} if fmt in ("mp4", "mov") else {}
        if fmt == "avi":
            # AVI counts frames, it has no timestamps: the muxer's shift of everything by an AAC
            # stream's negative priming time (-23 ms) would move frames by a fraction of a slot and
            # leave a gap (an empty frame). AVI audio is a plain sequence, so nothing needs it.
            options["avoid_negative_ts"] = "disabled"
        try:
            self.out = av.open(str(tmp), "w", format=fmt, options=options)
        except av.FFmpegError as exc:
            raise VideoError(f"cannot write video {dst}: {one_line(exc)}") from None
        self.video = None
        self.audio = None
        self.pending_audio: list = []
        self.last_pts: int | None = None
        self.first: fractions.Fraction | None = None  # the first frame's time and the last one's end
        self.end = fractions.Fraction(0)
        self.audio_note = "none"
        if src_audio is not None:
            name = _codec_name(src_audio)
            try:
                self.audio = self.out.add_stream_from_template(src_audio)
                self.audio_note = "copied"
            except Exception:  # ValueError: the muxer's codec list says no
                self.audio_note = f"audio dropped: {name} cannot be stored in {dst.suffix.lower()}"
        self.src_audio = src_audio if self.audio is not None else None

    def open_video(self, width: int, height: int) -> None:
        enc = choose_encoding(self.dst.suffix, width, height, self.output_type)
        stream = self.out.add_stream(enc.codec, rate=self.rate)
        stream.width, stream.height, stream.pix_fmt = width, height, enc.pix_fmt
        ctx = stream.codec_context
        self.src_tb = self.src_video.time_base or fractions.Fraction(self.rate.denominator, self.rate.numerator)
        self.tb = self.src_tb
        if enc.codec == "mpeg4":
            # MPEG-4 Part 2 allows time-base denominators < 2^16 only (a phone's 1/90000 is not):
            # count in frames.
            self.tb = fractions.Fraction(self.rate.denominator, self.rate.numerator)
            if self.tb.denominator >= 1 << 16:
                self.tb = fractions.Fraction(1, max(1, round(self.rate)))
            ctx.qscale = True  # constant quantiser (ffmpeg's -q:v)
            ctx.qmin = ctx.qmax = MPEG4_QSCALE
        ctx.time_base = self.tb
        if self.output_type == "alpha":
            ctx.color_range = 2 if enc.full_range else 1  # AVCOL_RANGE_JPEG / MPEG
        else:
            ctx.color_range = 1
            if enc.bt709:
                ctx.colorspace = ctx.color_primaries = ctx.color_trc = 1  # BT.709, tagged
        if enc.options:
            ctx.options = dict(enc.options)
        self.video, self.encoding = stream, enc
        self.width, self.height = width, height
        if enc.note:
            self.notes.append(enc.note)
        for packet in self.pending_audio:
            self._mux(packet)
        self.pending_audio = []

    def _mux(self, packet) -> None:
        packet.stream = self.audio
        self.out.mux(packet)

    def add_audio(self, packet) -> None:
        if packet.size == 0 or packet.dts is None:  # demux's flush packets
            return
        if self.video is None:
            self.pending_audio.append(packet)  # the header is written with the first packet
        else:
            self._mux(packet)

    def picture(self, image: np.ndarray):
        av, enc = self.av, self.encoding
        h, w = image.shape[:2]
        if image.ndim == 2:  # grey α in Y, chroma flat
            frame = av.VideoFrame(w, h, enc.pix_fmt)
            y = image if enc.full_range else np.rint(16.0 + image.astype(np.float32) * (219.0 / 255.0)).astype(np.uint8)
            _plane(frame, 0)[...] = y
            for i in range(1, len(frame.planes)):
                _plane(frame, i)[...] = 128
            frame.color_range = 2 if enc.full_range else 1
            return frame
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        fmt = av.video.reformatter
        matrix = fmt.Colorspace.ITU709 if enc.bt709 else fmt.Colorspace.ITU601
        return frame.reformat(format=enc.pix_fmt, dst_colorspace=matrix,
                              dst_color_range=fmt.ColorRange.MPEG, interpolation=fmt.Interpolation.BICUBIC)

    def encode(self, image: np.ndarray, pts: int | None, duration: int, index: int) -> None:
        frame = self.picture(image)
        if pts is None:
            new = round(index / self.rate / self.tb)
        else:
            new = round(pts * self.src_tb / self.tb)
        if self.last_pts is not None and new <= self.last_pts:
            new = self.last_pts + 1  # never equal or backwards: encoders reject that
        self.last_pts = new
        if self.first is None:
            self.first = new * self.tb
        frame.pts, frame.time_base = new, self.tb
        if duration:
            frame.duration = max(1, round(duration * self.src_tb / self.tb))
        for packet in self.video.encode(frame):
            self.out.mux(packet)
        self.end = (new + (frame.duration or round(1 / self.rate / self.tb))) * self.tb

    def finish(self) -> None:
        if self.video is not None:
            for packet in self.video.encode(None):
                self.out.mux(packet)
        self.out.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.out.close()
