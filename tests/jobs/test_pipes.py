"""Pipes (trtmatte/jobs/pipes.py): raw RGB24 frames in, raw α / RGBA frames out, framed as FFmpeg's
rawvideo muxer and demuxer frame them (checked with PyAV's FFmpeg; with the ffmpeg binary too
where Debian's is installed)."""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError
from trtmatte.jobs import pipes
from trtmatte.runtime.matter import Matter

REPO = Path(__file__).resolve().parents[2]
W, H = 64, 48


@pytest.fixture(scope="module")
def matter(tiny_onnx):
    with Matter("onnxruntime", onnx=tiny_onnx) as m:
        yield m


@pytest.fixture(scope="module")
def rgb24(tmp_path_factory) -> bytes:
    """What ``ffmpeg -i clip.mp4 -f rawvideo -pix_fmt rgb24 -`` writes: 6 frames, back to back (made by PyAV)."""
    av = pytest.importorskip("av", reason="PyAV is needed to make the frames (pip install 'trtmatte[video]')")
    from helpers.media import make_video

    clip = make_video(tmp_path_factory.mktemp("raw") / "clip.mp4", W, H, frames=6)
    with av.open(str(clip)) as container:
        return b"".join(f.to_ndarray(format="rgb24").tobytes() for f in container.decode(video=0))


def test_raw_frames_in_and_out(matter, rgb24):
    frames = np.frombuffer(rgb24, np.uint8).reshape(-1, H, W, 3)
    out = io.BytesIO()
    assert pipes.matte_raw(matter, io.BytesIO(rgb24), out, W, H) == 6
    alpha = np.frombuffer(out.getvalue(), np.uint8).reshape(6, H, W)
    assert np.array_equal(alpha, np.rint(matter(frames) * 255).astype(np.uint8))
    rgba = io.BytesIO()
    pipes.matte_raw(matter, io.BytesIO(rgb24[: 2 * W * H * 3]), rgba, W, H, output_type="rgba")
    assert len(rgba.getvalue()) == 2 * W * H * 4
    assert np.array_equal(np.frombuffer(rgba.getvalue(), np.uint8).reshape(2, H, W, 4)[..., 3], alpha[:2])
    # a stream cut inside a frame: the whole frames are out, then one line
    cut = io.BytesIO()
    with pytest.raises(TrtmatteError, match=r"stdin ended inside frame 2: 100 of its 9216 bytes") as caught:
        pipes.matte_raw(matter, io.BytesIO(rgb24[: 2 * W * H * 3 + 100]), cut, W, H)
    assert "\n" not in str(caught.value) and len(cut.getvalue()) == 2 * W * H
    for text in ("1280", "0x720", "axb"):
        with pytest.raises(TrtmatteError, match="--raw needs the frame size as WIDTHxHEIGHT"):
            pipes.parse_size(text)


def test_raw_pipe_through_the_cli_reads_back_with_ffmpegs_rawvideo_demuxer(tmp_path, tiny_onnx, rgb24, matter):
    """``... | trtmatte matte - --raw 64x48 -o - | ...``: stdout is α frames alone, which FFmpeg's
    rawvideo demuxer (through PyAV) reads back frame for frame; messages are on stderr."""
    import av

    r = subprocess.run([sys.executable, "-m", "trtmatte", "matte", "-", "--raw", f"{W}x{H}", "-o", "-",
                        "--onnx", str(tiny_onnx)], input=rgb24, capture_output=True, cwd=REPO, timeout=600)
    assert r.returncode == 0, r.stderr
    assert b"done 6 frames" in r.stderr and len(r.stdout) == 6 * W * H
    (tmp_path / "alpha.gray").write_bytes(r.stdout)
    with av.open(str(tmp_path / "alpha.gray"), format="rawvideo",
                 options={"video_size": f"{W}x{H}", "pixel_format": "gray", "framerate": "25"}) as container:
        decoded = np.stack([f.to_ndarray() for f in container.decode(video=0)])
    frames = np.frombuffer(rgb24, np.uint8).reshape(-1, H, W, 3)
    assert np.array_equal(decoded, np.rint(matter(frames) * 255).astype(np.uint8))
    r = subprocess.run([sys.executable, "-m", "trtmatte", "matte", "-", "--raw", f"{W}x{H}", "-o", "-",
                        "--onnx", str(tiny_onnx)], input=rgb24[:-5], capture_output=True, cwd=REPO, timeout=600)
    assert r.returncode == 1 and len(r.stdout) == 5 * W * H
    assert r.stderr.decode().strip().splitlines()[-1].startswith("trtmatte: error: stdin ended inside frame 5")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg program is not installed (apt-get install ffmpeg)")
def test_ffmpeg_pipeline_end_to_end(tmp_path, tiny_onnx):
    """The documented pipeline (docs/matte.md#pipes), with Debian's ffmpeg on both sides."""
    av = pytest.importorskip("av", reason="PyAV is needed to make and probe the clips (pip install 'trtmatte[video]')")
    from helpers.media import make_video

    clip = make_video(tmp_path / "clip.mp4", W, H, frames=8)
    command = (f"ffmpeg -loglevel error -i {clip} -f rawvideo -pix_fmt rgb24 - | "
               f"{sys.executable} -m trtmatte matte - --raw {W}x{H} -o - --onnx {tiny_onnx} | "
               f"ffmpeg -loglevel error -f rawvideo -pix_fmt gray -s {W}x{H} -r 25 -i - -y {tmp_path / 'alpha.mp4'}")
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, cwd=REPO, timeout=600)
    with av.open(str(tmp_path / "alpha.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 8
