"""Matting through pipes (``-`` for stdin or stdout), for shell and FFmpeg pipelines.

* One image: ``cat photo.jpg | trtmatte matte - -o - > alpha.png``. The encoded image is read from
  stdin (any format the decoder reads) and one PNG is written to stdout: the same bytes that
  ``trtmatte matte photo.jpg -o alpha.png`` writes. ``-`` on one side only works too.
* Raw frames (``--raw WxH``): stdin is a stream of RGB24 frames of W×H pixels, back to back, with
  no header (FFmpeg's ``-f rawvideo -pix_fmt rgb24``); each is matted and written to stdout at
  once as a raw frame of the output type: ``alpha`` gray8 (W×H bytes), ``rgba`` RGBA (W×H×4),
  ``fg`` and ``composite`` RGB24 (W×H×3). A stream that ends inside a frame is a one-line error
  (after the complete frames are written): the size given is not the stream's.

Nothing but the picture goes to stdout; messages are the caller's, on stderr.
"""
from __future__ import annotations

import os
import re
from typing import BinaryIO

import numpy as np

from ..compose import OUTPUT_TYPES, as_background, render
from ..errors import TrtmatteError
from ..media.image import DEFAULT_MAX_PIXELS, encode_image, read_rgb

RAW_PIXEL_FORMATS = {"alpha": "gray", "rgba": "rgba", "fg": "rgb24", "composite": "rgb24"}  # FFmpeg's names


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not match or not int(match[1]) or not int(match[2]):
        raise TrtmatteError(f"--raw needs the frame size as WIDTHxHEIGHT, e.g. --raw 1280x720, got {text!r}")
    return int(match[1]), int(match[2])


def read_stream(stream: BinaryIO) -> bytes:
    data = stream.read()
    if not data:
        raise TrtmatteError("stdin is empty: pipe an image in (cat photo.jpg | trtmatte matte - -o -)")
    return data


def matte_one(matter, source: str | os.PathLike | bytes, output_type: str = "alpha", background=None,
              max_pixels: int | None = DEFAULT_MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """The uint8 picture of ``output_type`` for one image given as a path or as its file's bytes."""
    if output_type not in OUTPUT_TYPES:
        raise TrtmatteError(f"unknown output type {output_type!r}: choose one of {', '.join(OUTPUT_TYPES)}")
    image = read_rgb(source, max_pixels, name=name)
    return render(output_type, image, matter.matte(image), as_background(background))


def write_stream(picture: np.ndarray, stream: BinaryIO) -> None:
    """The picture as one PNG on ``stream`` (stdout)."""
    stream.write(encode_image(picture, "PNG"))
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def matte_raw(matter, src: BinaryIO, dst: BinaryIO, width: int, height: int, output_type: str = "alpha",
              background=None, smooth: float = 0.0) -> int:
    """Matte RGB24 frames of ``width``×``height`` from ``src`` to raw frames on ``dst`` (see the
    module doc); the number of frames. ``smooth``: the video job's temporal smoothing of α."""
    from .video_job import AlphaSmoother

    if output_type not in OUTPUT_TYPES:
        raise TrtmatteError(f"unknown output type {output_type!r}: choose one of {', '.join(OUTPUT_TYPES)}")
    if getattr(matter, "needs_trimap", False):
        raise TrtmatteError("--raw frames carry no trimap: use a trimap-free model, or --trimap auto")
    background, smoother = as_background(background), AlphaSmoother(smooth)
    size = width * height * 3
    frames = 0
    while True:
        data = _read_exact(src, size)
        if not data:
            return frames
        if len(data) < size:
            raise TrtmatteError(f"stdin ended inside frame {frames}: {len(data)} of its {size} bytes "
                                f"({width}x{height} RGB24) after {frames} whole frames: is --raw {width}x{height} "
                                "the stream's size (ffmpeg ... -s WxH -f rawvideo -pix_fmt rgb24 -)?")
        frame = np.frombuffer(data, np.uint8).reshape(height, width, 3)
        alpha = smoother(np.asarray(matter(frame[None]))[0])
        dst.write(np.ascontiguousarray(render(output_type, frame, alpha, background)).tobytes())
        dst.flush()
        frames += 1
