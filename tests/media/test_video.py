"""trtmatte.media.video: videos named by suffix, probed in one call (size as displayed, frame rate,
frame count, codecs, audio). Writing and reading frames are exercised through the video job
(tests/jobs/test_video_job.py), whose outputs are checked pixel for pixel."""
from __future__ import annotations

import fractions

import pytest

pytest.importorskip("av", reason="PyAV is needed for video (pip install 'trtmatte[video]')")

from trtmatte.media import video  # noqa: E402

from helpers.media import make_video  # noqa: E402

F = fractions.Fraction


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    return {"aac": make_video(root / "aac.mp4", 64, 48, 12, F(25), audio="aac"),
            "odd": make_video(root / "odd.mkv", 65, 37, 10, F(30000, 1001))}


def test_is_video_by_suffix():
    assert all(video.is_video(f"clip{s}") for s in video.VIDEO_SUFFIXES)
    assert video.is_video("CLIP.MP4") and not video.is_video("photo.png") and not video.is_video("clip")


def test_probe(clips):
    info = video.probe(clips["aac"])
    assert (info.width, info.height, info.fps, info.frames) == (64, 48, F(25), 12)
    assert info.has_audio and info.audio_codec == "aac" and info.codec == "h264" and info.rotation == 0
    assert info.duration == pytest.approx(0.48, abs=1e-3)
    odd = video.probe(clips["odd"])
    assert (odd.width, odd.height, odd.fps, odd.has_audio) == (65, 37, F(30000, 1001), False)
    assert odd.frames is None  # Matroska does not count frames in its header


def test_encoding_by_suffix_and_size():
    assert video.choose_encoding(".avi", 64, 48, "alpha").codec == "mpeg4"
    assert video.choose_encoding(".webm", 64, 48, "composite").codec == "libvpx-vp9"
    assert video.choose_encoding(".mp4", 65, 37, "composite").pix_fmt == "yuv444p"
