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
        _encode_audio(container, sound, (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32))
    container.close()
    return path


def make_audio_only(path: Path) -> Path:
    container = av.open(str(path), "w", format="mp4")
    sound = container.add_stream("aac", rate=44100)
    sound.layout = "mono"
    _encode_audio(container, sound, np.zeros(11025, np.float32))  # a quarter second of silence
    container.close()
    return path


def _encode_audio(container, sound, samples: np.ndarray) -> None:
    """Mono float samples at 44.1 kHz into ``sound``, in the codec's frame size, flushed."""
    size = sound.codec_context.frame_size or 1024
    for start in range(0, len(samples), size):
        chunk = av.AudioFrame.from_ndarray(samples[None, start:start + size], format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = 44100, start
        for packet in sound.encode(chunk):
            container.mux(packet)
    for packet in sound.encode():
        container.mux(packet)
