"""trtmatte.jobs.video_job (with trtmatte.media.video's reader and writer): a matte function over a clip, grey-α or composite video out, with the clip's
frame rate, size, duration and audio; temporal smoothing; one-line errors and no half-written file.

The clips are generated here with PyAV (tiny, 10-12 frames), and the matte function is a fake
with a known answer (α = mean(RGB)/255 of the frame it is given), so an output can be checked
pixel for pixel against what it should hold, up to the lossy codec's error (docs/video.md)."""
from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV is needed for video (pip install 'trtmatte[video]')")

from trtmatte import compose  # noqa: E402
from trtmatte.errors import TrtmatteError  # noqa: E402
from trtmatte.jobs import video_job  # noqa: E402
from trtmatte.media import video  # noqa: E402

from helpers.media import make_audio_only, make_video  # noqa: E402

F = fractions.Fraction


def decode(path: Path, fmt: str = "rgb24"):
    """(frames as arrays, [(seconds, duration seconds)]) of the first video stream."""
    with av.open(str(path)) as container:
        images, times = [], []
        for frame in container.decode(video=0):
            image = frame.reformat(format="gray").to_ndarray() if fmt == "gray" else frame.to_ndarray(format=fmt)
            images.append(image)
            times.append((float(frame.pts * frame.time_base), float((frame.duration or 0) * frame.time_base)))
    return np.stack(images), times


def mean_matte(frames: np.ndarray) -> np.ndarray:
    """The fake network: α = mean(RGB) / 255, float32 [N, H, W], as a Matter returns it."""
    assert frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3
    return frames.astype(np.float32).mean(-1) / 255.0


def assert_close(got: np.ndarray, want: np.ndarray, mean: float, peak: int) -> None:
    err = np.abs(got.astype(np.int16) - want.astype(np.int16))
    assert err.mean() <= mean and err.max() <= peak, (err.mean(), err.max())


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    return {
        "aac": make_video(root / "aac.mp4", 64, 48, 12, F(25), audio="aac"),
        "odd": make_video(root / "odd.mkv", 65, 37, 10, F(30000, 1001)),
        "half": make_video(root / "half.mp4", 64, 48, 10, F(25, 2)),
        "mpeg4": make_video(root / "mpeg4.avi", 65, 37, 10, F(25), codec="mpeg4"),
        "audio_only": make_audio_only(root / "speech.m4a"),
    }


def no_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("clip, suffix, batch", [("aac", ".mp4", 1), ("odd", ".mkv", 4), ("half", ".webm", 3),
                                                 ("mpeg4", ".avi", 2), ("aac", ".mov", 5)])
def test_alpha_round_trip(clips, tmp_path, clip, suffix, batch):
    """Frame count, size, frame rate and duration kept; α back within the codec's loss."""
    src, dst = clips[clip], tmp_path / f"alpha{suffix}"
    source, source_times = decode(src)
    done = []
    report = video_job.matte_video(mean_matte, src, dst, batch=batch, progress=done.append)
    info_in, info_out = video.probe(src), video.probe(dst)
    n = len(source)
    assert report.frames == n and done == list(range(1, n + 1))
    assert (info_out.width, info_out.height) == (info_in.width, info_in.height) == (report.width, report.height)
    assert info_out.fps == info_in.fps == report.fps
    alpha, times = decode(dst, "gray")
    assert alpha.shape == (n, info_in.height, info_in.width)
    span = times[-1][0] + (times[-1][1] or 1 / float(info_in.fps)) - times[0][0]
    assert span == pytest.approx(n / float(info_in.fps), abs=0.003)
    assert report.duration == pytest.approx(n / float(info_in.fps), abs=0.003)
    # frames at the source's times (a shift by a muxer applies to every stream alike)
    offsets = np.array([t for t, _ in times]) - np.array([t for t, _ in source_times])
    assert np.ptp(offsets) < 0.002
    want = compose.to_uint8(mean_matte(source))
    assert_close(alpha, want, mean=2.0, peak=12)


def test_uint8_alpha_is_read_as_0_to_255(clips, tmp_path):
    report = video_job.matte_video(lambda f: compose.to_uint8(mean_matte(f)), clips["half"], tmp_path / "a.mkv")
    source, _ = decode(clips["half"])
    alpha, _ = decode(tmp_path / "a.mkv", "gray")
    assert report.frames == 10
    assert_close(alpha, compose.to_uint8(mean_matte(source)), mean=2.0, peak=12)


def test_odd_size_note_and_codecs(clips, tmp_path):
    report = video_job.matte_video(mean_matte, clips["odd"], tmp_path / "a.mp4")
    assert (report.codec, report.pix_fmt) == ("libx264", "gray")
    assert any("odd size 65x37" in note for note in report.notes)
    even = video_job.matte_video(mean_matte, clips["aac"], tmp_path / "b.mp4")
    assert (even.codec, even.pix_fmt, even.notes) == ("libx264", "yuv420p", [])


@pytest.mark.parametrize("clip, suffix, backdrop", [("aac", ".mp4", "image"), ("odd", ".mkv", "colour"),
                                                   ("mpeg4", ".avi", "colour")])
def test_composite_matches_render(clips, tmp_path, clip, suffix, backdrop):
    """Each output frame is compose.render('composite') of the decoded source frame, up to the
    codec's loss (BT.709 in H.264, 4:4:4 at an odd size, BT.601 in AVI, read back without a colour
    cast); a background image is resized once, as render would resize it."""
    pytest.importorskip("pymatting", reason="composites estimate foreground colours with pymatting")
    src, dst = clips[clip], tmp_path / f"comp{suffix}"
    source, _ = decode(src)
    if backdrop == "image":
        yy, xx = np.mgrid[0:20, 0:30]
        image = np.stack([xx * 8, yy * 12, np.full_like(xx, 90)], -1).astype(np.uint8)
        background = compose.Background(color=None, image=image)
    else:
        background = compose.Background((0, 200, 40))
    report = video_job.matte_video(mean_matte, src, dst, output_type="composite", background=background, batch=3)
    got, _ = decode(dst)
    want = np.stack([compose.render("composite", f, a, background) for f, a in zip(source, mean_matte(source))])
    assert report.output_type == "composite" and got.shape == want.shape
    assert np.abs(got.astype(float).mean((0, 1, 2)) - want.astype(float).mean((0, 1, 2))).max() < 1.5
    assert_close(got, want, mean=4.0, peak=40)


@pytest.mark.parametrize("output_type", ["rgba", "fg", "nope"])
def test_video_output_types(clips, tmp_path, output_type):
    with pytest.raises(TrtmatteError, match="video output is alpha or composite") as err:
        video_job.matte_video(mean_matte, clips["aac"], tmp_path / "x.mp4", output_type=output_type)
    assert "\n" not in str(err.value)
    assert no_leftovers(tmp_path) == []


def test_rotation_applied(tmp_path):
    """A phone's portrait clip (stored landscape, 'rotate 90° clockwise' in its display matrix) is
    matted and written upright, without the tag."""
    if not hasattr(av.video.stream.VideoStream, "set_display_rotation"):
        pytest.skip("this PyAV cannot write a display matrix")
    src = make_video(tmp_path / "portrait.mp4", 64, 48, 6, rotation=-90)
    info = video.probe(src)
    assert (info.width, info.height, info.rotation) == (48, 64, 270)
    seen = []
    report = video_job.matte_video(lambda f: seen.append(f.shape) or mean_matte(f), src, tmp_path / "out.mp4")
    assert seen[0] == (1, 64, 48, 3) and (report.width, report.height) == (48, 64)
    out = video.probe(tmp_path / "out.mp4")
    assert (out.width, out.height, out.rotation) == (48, 64, 0)
    coded, _ = decode(src)
    alpha, _ = decode(tmp_path / "out.mp4", "gray")
    assert_close(alpha, compose.to_uint8(mean_matte(np.rot90(coded, k=-1, axes=(1, 2)))), mean=2.0, peak=12)


# -- smoothing ---------------------------------------------------------------------------------

def test_smoother_is_the_ema():
    """α̃ₜ = (1−s)·αₜ + s·α̃ₜ₋₁, α̃₀ = α₀: a step from 0 to 1 is 1 − sᵗ after t frames."""
    smoother = video_job.AlphaSmoother(0.5)  # a power of two: every value below is exact in float32
    zeros, ones = np.zeros((3, 4), np.float32), np.ones((3, 4), np.float32)
    assert np.array_equal(smoother(zeros), zeros)
    got = [smoother(ones).copy() for _ in range(5)]
    for t, frame in enumerate(got, start=1):
        assert np.array_equal(frame, np.full((3, 4), 1 - 0.5 ** t, np.float32))
    rng = np.random.default_rng(0)
    alphas = rng.random((8, 5, 6), dtype=np.float32)
    smoother, s = video_job.AlphaSmoother(0.7), 0.7
    expected = alphas[0].astype(np.float64)
    for t, a in enumerate(alphas):
        expected = a if t == 0 else (1 - s) * a + s * expected
        np.testing.assert_allclose(smoother(a), expected, atol=1e-6)
    raw = alphas[3]
    assert video_job.AlphaSmoother(0.0)(raw) is raw  # off: no copy, no buffer
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(TrtmatteError, match=r"--smooth must be in \[0, 1\)"):
            video_job.AlphaSmoother(bad)


def test_smoothing_in_a_video(clips, tmp_path):
    """The step in the matte function's α reaches the file as the EMA says (codec loss aside)."""
    step = {"i": 0}

    def stepping(frames):
        out = np.zeros(frames.shape[:3], np.float32)
        for k in range(len(frames)):
            out[k] = 0.0 if step["i"] < 4 else 1.0
            step["i"] += 1
        return out

    report = video_job.matte_video(stepping, clips["aac"], tmp_path / "s.mkv", smooth=0.5, batch=3)
    alpha, _ = decode(tmp_path / "s.mkv", "gray")
    want = [0.0] * 4 + [1 - 0.5 ** t for t in range(1, 9)]
    np.testing.assert_allclose(alpha.mean((1, 2)) / 255, want, atol=2 / 255)
    assert report.smooth == 0.5 and report.smooth_seconds >= 0.0
    with pytest.raises(TrtmatteError, match="--smooth"):
        video_job.matte_video(mean_matte, clips["aac"], tmp_path / "t.mp4", smooth=1.0)
    assert not (tmp_path / "t.mp4").exists()


# -- audio -------------------------------------------------------------------------------------

def audio_packets(path: Path) -> tuple[str | None, int]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None, 0
        stream = container.streams.audio[0]
        return stream.codec_context.name, sum(1 for p in container.demux(stream) if p.size)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4", ".avi"])
def test_audio_copied(clips, tmp_path, suffix):
    report = video_job.matte_video(mean_matte, clips["aac"], tmp_path / f"a{suffix}")
    assert report.audio == "copied" and report.notes == []
    codec, packets = audio_packets(clips["aac"])
    assert codec == "aac" and packets > 0
    assert audio_packets(tmp_path / f"a{suffix}") == (codec, packets)


def test_audio_dropped_with_a_note(clips, tmp_path):
    report = video_job.matte_video(mean_matte, clips["aac"], tmp_path / "a.webm")
    assert report.audio == "audio dropped: aac cannot be stored in .webm"
    assert report.notes == [report.audio]
    assert audio_packets(tmp_path / "a.webm") == (None, 0)
    assert video_job.matte_video(mean_matte, clips["odd"], tmp_path / "b.mp4").audio == "none"


# -- bad input, failures, interrupts -----------------------------------------------------------

def test_missing_file(tmp_path):
    for call in (lambda: video.probe(tmp_path / "nope.mp4"),
                 lambda: video_job.matte_video(mean_matte, tmp_path / "nope.mp4", tmp_path / "out.mp4")):
        with pytest.raises(video.VideoError, match=r"video .*nope\.mp4 not found"):
            call()
    assert no_leftovers(tmp_path) == []


def test_no_video_stream(clips, tmp_path):
    for call in (lambda: video.probe(clips["audio_only"]),
                 lambda: video_job.matte_video(mean_matte, clips["audio_only"], tmp_path / "out.mp4")):
        with pytest.raises(video.VideoError) as err:
            call()
        assert str(err.value) == f"cannot read video {clips['audio_only']}: it has no video stream (audio only?)"
    assert no_leftovers(tmp_path) == []


def test_truncated_and_corrupt_files(clips, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    data = clips["aac"].read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    with pytest.raises(video.VideoError, match=r"cut\.mp4: FFmpeg cannot open it \(.*\)$"):
        video_job.matte_video(mean_matte, tmp_path / "cut.mp4", out / "a.mp4")
    mkv = clips["odd"].read_bytes()
    (tmp_path / "cut.mkv").write_bytes(mkv[: len(mkv) * 2 // 3])  # Matroska plays up to the cut
    with pytest.raises(video.VideoError, match=r"cut\.mkv: decoding stopped at frame \d of about 10 "):
        video_job.matte_video(mean_matte, tmp_path / "cut.mkv", out / "b.mp4")
    video_job.matte_video(mean_matte, clips["aac"], tmp_path / "fast.mp4")  # +faststart: the index comes first
    fast = (tmp_path / "fast.mp4").read_bytes()
    (tmp_path / "cut_fast.mp4").write_bytes(fast[: len(fast) * 2 // 3])  # opens, and ends early
    with pytest.raises(video.VideoError, match=r"cut_fast\.mp4: decoding stopped at frame \d+ of 12 "):
        video_job.matte_video(mean_matte, tmp_path / "cut_fast.mp4", out / "d.mp4")
    garbled = bytearray(data)
    start = garbled.find(b"mdat") + 200
    garbled[start:start + 1200] = bytes((k * 7919) % 256 for k in range(1200))
    (tmp_path / "bad.mp4").write_bytes(bytes(garbled))
    with pytest.raises(video.VideoError, match=r"bad\.mp4: decoding failed at frame \d+ \(.+\)$"):
        video_job.matte_video(mean_matte, tmp_path / "bad.mp4", out / "c.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(video.VideoError, match="the file is empty"):
        video.probe(tmp_path / "empty.mp4")
    assert no_leftovers(out) == []


def test_matte_failure_names_file_and_frame(clips, tmp_path):
    calls = {"n": 0}

    def failing(frames):
        calls["n"] += len(frames)
        if calls["n"] > 6:
            raise RuntimeError("CUDA error: out of memory\nsecond line")
        return mean_matte(frames)

    with pytest.raises(video.VideoError) as err:
        video_job.matte_video(failing, clips["aac"], tmp_path / "out.mp4", batch=2)
    assert str(err.value) == f"matting {clips['aac']} failed at frames 6-7: CUDA error: out of memory second line"
    with pytest.raises(video.VideoError, match=r"failed at frame 0: expected alpha \[1, 48, 64\], got \[1, 64, 48\]"):
        video_job.matte_video(lambda f: np.zeros((1, 64, 48), np.float32), clips["aac"], tmp_path / "out.mp4")
    assert no_leftovers(tmp_path) == []


def test_ctrl_c_leaves_nothing(clips, tmp_path):
    """KeyboardInterrupt mid-video propagates as is; no output and no temporary file remain."""
    calls = {"n": 0}

    def interrupted(frames):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return mean_matte(frames)

    for suffix in (".mp4", ".mkv"):
        calls["n"] = 0
        with pytest.raises(KeyboardInterrupt):
            video_job.matte_video(interrupted, clips["aac"], tmp_path / f"out{suffix}")
        assert no_leftovers(tmp_path) == []


def test_bad_destinations(clips, tmp_path):
    with pytest.raises(video.VideoError, match=r"unknown video suffix '\.gif' \(use \.mp4, .* or \.m4v\)"):
        video_job.matte_video(mean_matte, clips["aac"], tmp_path / "out.gif")
    with pytest.raises(video.VideoError, match="it is the input video"):
        video_job.matte_video(mean_matte, clips["aac"], clips["aac"])
    with pytest.raises(TrtmatteError, match="does not exist"):
        video_job.matte_video(mean_matte, clips["aac"], tmp_path / "no" / "out.mp4")
    with pytest.raises(video.VideoError, match="batch must be a positive integer"):
        video_job.matte_video(mean_matte, clips["aac"], tmp_path / "out.mp4", batch=0)
    assert no_leftovers(tmp_path) == []
