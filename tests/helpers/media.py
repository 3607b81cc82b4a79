"""Tiny videos made with PyAV for tests: smooth moving colour waves (lossy codecs keep them well),
optionally with a tone, a rotation tag or no video at all."""
from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np

F = fractions.Fraction


def make_video(path: Path, width: int = 64, height: int = 48, frames: int = 12, rate=F(25), *,
               codec: str = "libx264", audio: str | None = None, rotation: int | None = None) -> Path:
    """A clip of smooth moving colour waves (lossy codecs keep them well), optionally with a tone."""
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv444p" if codec == "libx264" and (width % 2 or height % 2) else "yuv420p"
    if codec == "libx264":
        stream.codec_context.options = {"crf": "12", "preset": "ultrafast"}
    if rotation is not None:
        stream.set_display_rotation(rotation)
    sound = None
    if audio:
        sound = container.add_stream(audio, rate=44100)
        sound.layout = "mono"
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    for i in range(frames):
        phase = 2 * np.pi * i / frames
        rgb = np.stack([128 + 100 * np.sin(3 * np.pi * xx / width + phase),
                        128 + 100 * np.cos(2 * np.pi * yy / height + phase),
                        128 + 90 * np.sin(2 * np.pi * (xx + yy) / (width + height) - phase)], -1)
        frame = av.VideoFrame.from_ndarray(np.rint(rgb).astype(np.uint8), format="rgb24")
        frame.pts, frame.time_base = i, 1 / F(rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    if sound is not None:
        samples = round(44100 * frames / F(rate))
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
        size = sound.codec_context.frame_size or 1024
        for start in range(0, samples, size):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + size], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 44100, start
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    container.close()
    return path


def make_audio_only(path: Path) -> Path:
    container = av.open(str(path), "w", format="mp4")
    sound = container.add_stream("aac", rate=44100)
    sound.layout = "mono"
    for start in range(0, 11025, 1024):
        chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 44100, start
        for packet in sound.encode(chunk):
            container.mux(packet)
    for packet in sound.encode():
        container.mux(packet)
    container.close()
    return path
