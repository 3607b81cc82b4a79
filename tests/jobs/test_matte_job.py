"""Batch matting: planning work items from files, folders and globs; streaming through the backend;
one outcome per item; outputs rendered and written atomically."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trtmatte.compose import Background, estimate_foreground, render
from trtmatte.errors import TrtmatteError
from trtmatte.jobs import MatteJob, MatteJobOptions, WorkItem, plan_work
from trtmatte.runtime import OrtSession
from trtmatte.runtime.matter import Matter
from helpers.images import save_image  # noqa: E402


save = save_image


def test_plan_mirrors_folders_and_globs(tmp_path):
    src = tmp_path / "photos"
    for rel in ("a.jpg", "sub/b.png", "sub/deeper/c.webp", "sub/notes.txt", ".hidden/d.png"):
        save(src / rel) if not rel.endswith(".txt") else (src / rel).write_text("x")
    out = tmp_path / "out"
    items = list(plan_work([str(src)], out))
    assert [(i.source.relative_to(src).as_posix(), i.target.relative_to(out).as_posix()) for i in items
            if i.kind == "image"] == [("a.jpg", "a.png"), ("sub/b.png", "sub/b.png"), ("sub/deeper/c.webp", "sub/deeper/c.png")]
    unsupported = [i for i in items if i.kind == "unsupported"]  # named, not dropped silently
    assert [i.source.name for i in unsupported] == ["notes.txt"] and ".txt" in unsupported[0].error
    by_glob = list(plan_work([str(src / "**" / "*.png")], out))
    assert [i.target.relative_to(out).as_posix() for i in by_glob] == ["sub/b.png"]
    only_jpg = list(plan_work([str(src)], out, extensions=["jpg,JPEG"]))
    assert [i.source.name for i in only_jpg] == ["a.jpg"]  # --ext chose: the others are not reported
    # one file into a file name
    assert list(plan_work([str(src / "a.jpg")], tmp_path / "alpha.png")) == [
        WorkItem(src / "a.jpg", tmp_path / "alpha.png", "image")]


def test_plan_refuses_a_file_as_the_folder_and_reports_collisions(tmp_path):
    a, b = save(tmp_path / "x" / "same.png"), save(tmp_path / "y" / "same.jpg")
    with pytest.raises(TrtmatteError, match="need -o to be an existing directory"):
        plan_work([str(a), str(b)], tmp_path / "out.png")
    items = list(plan_work([str(a), str(b)], tmp_path / "out"))
    assert items[0].error is None and "would both write" in items[1].error


def test_plan_is_lazy(tmp_path):
    src = tmp_path / "many"
    for i in range(50):
        (src / f"{i:03d}.png").parent.mkdir(exist_ok=True)
        (src / f"{i:03d}.png").write_bytes(b"")  # names only: nothing is read while planning
    items = plan_work([str(src)], tmp_path / "out")
    assert [i.source.name for i in itertools.islice(items, 3)] == ["000.png", "001.png", "002.png"]


def test_plan_matches_trimaps_by_relative_path_and_stem(tmp_path):
    src, tri = tmp_path / "photos", tmp_path / "trimaps"
    for rel in ("a.jpg", "sub/b.png", "sub/c.png"):
        save(src / rel)
    for rel in ("a.png", "sub/b.tif", "c.png", "sub/notes.txt"):
        save(tri / rel) if not rel.endswith(".txt") else (tri / rel).write_text("x")
    (src / "clip.mp4").write_bytes(b"")
    items = {i.source.name: i for i in plan_work([str(src)], tmp_path / "out", trimap=tri)}
    assert items["a.jpg"].trimap == tri / "a.png" and items["b.png"].trimap == tri / "sub" / "b.tif"
    assert items["c.png"].trimap is None and "no trimap" in items["c.png"].error and "sub/c" in items["c.png"].error
    assert "a video takes no trimap file" in items["clip.mp4"].error
    # one image, one trimap file; a file named directly is matched by its bare name in a folder
    one = list(plan_work([str(src / "a.jpg")], tmp_path / "a.png", trimap=tri / "a.png"))
    assert one[0].trimap == tri / "a.png" and one[0].error is None
    assert list(plan_work([str(src / "a.jpg")], tmp_path / "out", trimap=tri))[0].trimap == tri / "a.png"
    with pytest.raises(TrtmatteError, match="is one file, for one input image"):
        plan_work([str(src)], tmp_path / "out", trimap=tri / "a.png")
    with pytest.raises(TrtmatteError, match="no such file or folder"):
        plan_work([str(src)], tmp_path / "out", trimap=tmp_path / "missing")


@pytest.fixture(scope="module")
def matter(tiny_onnx):
    with Matter("onnxruntime", onnx=tiny_onnx) as m:
        yield m


def test_folder_with_bad_files_goes_on_and_says_why(tmp_path, matter, tiny_onnx):
    src = tmp_path / "in"
    good = [save(src / "a.png", (33, 47), 1), save(src / "deep" / "er" / "b.jpg", (20, 64), 2),
            save(src / "deep" / "thin.png", (1, 300), 3),
            save(src / "strip.png", (1, 2000), 4)]  # over the 800 cap: its short side must not round to 0
    (src / "deep" / "broken.png").write_bytes(good[0].read_bytes()[:50])
    (src / "empty.png").write_bytes(b"")
    outcomes = []
    summary = MatteJob(matter, MatteJobOptions(jobs=2), outcomes.append).run(plan_work([str(src)], tmp_path / "out"))
    assert (summary.done, summary.failed, summary.skipped) == (4, 2, 0)
    failed = sorted(o.error for o in outcomes if o.status == "failed")
    assert len(failed) == 2 and all("\n" not in e for e in failed)
    assert "broken.png" in failed[0] and "empty.png" in failed[1]
    session = OrtSession(tiny_onnx)
    for path in good:
        out = tmp_path / "out" / path.relative_to(src).with_suffix(".png")
        alpha = np.asarray(Image.open(out))
        expected = session.run_raw(np.asarray(Image.open(path).convert("RGB"))[None])["alpha"][0]
        assert np.array_equal(alpha, expected)  # the CLI adds only I/O
    assert not list((tmp_path / "out").rglob("*.part")) and not list((tmp_path / "out").rglob(".*"))


def test_skip_existing(tmp_path, matter):
    src = tmp_path / "in"
    save(src / "a.png"), save(src / "b.png")
    job = MatteJob(matter, MatteJobOptions(skip_existing=True))
    assert job.run(plan_work([str(src)], tmp_path / "out")).done == 2
    again = job.run(plan_work([str(src)], tmp_path / "out"))
    assert (again.done, again.skipped) == (0, 2)


def test_decoding_runs_a_bounded_distance_ahead(tmp_path, matter):
    """Memory stays flat for any number of inputs: when the first result is reported, only a few
    items have been taken from the (here: endless) stream of inputs."""
    image = save(tmp_path / "one.png")
    taken = itertools.count()
    seen_at_first_outcome = []

    def endless():
        while True:
            next(taken)
            yield WorkItem(image, tmp_path / "out" / "x.png", "image")

    class Stop(Exception):
        pass

    def report(outcome):
        seen_at_first_outcome.append(next(taken) - 1)
        raise Stop

    with pytest.raises(Stop):
        MatteJob(matter, MatteJobOptions(jobs=2), report).run(endless())
    assert seen_at_first_outcome[0] <= 8  # decode look-ahead (jobs + slots) plus the writes in flight


def test_rgba_and_composite_use_estimated_foreground(tmp_path, matter, photo):
    """Checked against pymatting itself: the cutout's colours are estimate_foreground_ml's F, not I*alpha."""
    small = np.asarray(Image.fromarray(photo).resize((96, 96), Image.BILINEAR))
    path = tmp_path / "in" / "p.png"
    path.parent.mkdir()
    Image.fromarray(small).save(path)
    alpha = matter.matte(path)
    from pymatting import estimate_foreground_ml

    fg = np.clip(estimate_foreground_ml(small / 255.0, alpha.astype(np.float64)), 0, 1)
    for output_type in ("rgba", "composite", "fg"):
        options = MatteJobOptions(output_type=output_type, background=Background((0, 255, 0)))
        MatteJob(matter, options).run(plan_work([str(path)], tmp_path / f"{output_type}.png"))
        got = np.asarray(Image.open(tmp_path / f"{output_type}.png")).astype(int)
        if output_type == "rgba":
            assert got.shape == (96, 96, 4)
            assert np.abs(got[..., 3] - np.rint(alpha * 255)).max() <= 1
            assert np.abs(got[..., :3] - fg * 255).max() <= 1
        elif output_type == "fg":
            assert np.abs(got - fg * 255).max() <= 1
        else:
            expected = alpha[..., None] * fg + (1 - alpha[..., None]) * np.array([0, 1.0, 0])
            assert np.abs(got - expected * 255).max() <= 1
    naive = small * alpha[..., None]  # what a cutout without foreground estimation would carry
    assert np.abs(np.asarray(Image.open(tmp_path / "fg.png")).astype(float) - naive).max() > 10


def test_render_and_estimate_directly():
    image = np.full((8, 8, 3), 200, np.uint8)
    alpha = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    assert np.array_equal(render("alpha", image, alpha), np.rint(alpha * 255).astype(np.uint8))
    fg = estimate_foreground(image, alpha)
    assert fg.shape == (8, 8, 3) and fg.dtype == np.float32
    with pytest.raises(TrtmatteError, match="unknown output type"):
        render("mask", image, alpha)
    with pytest.raises(TrtmatteError, match="does not match the image"):
        render("alpha", image, alpha[:4])


def test_matter_python_api_takes_paths_pil_and_arrays(tmp_path, matter):
    path = save(tmp_path / "x.png", (24, 36), 4)
    pil = Image.open(path)
    array = np.asarray(pil.convert("RGB"))
    a = matter.matte(path)
    assert a.shape == (24, 36) and a.dtype == np.float32
    assert np.array_equal(a, matter.matte(pil)) and np.array_equal(a, matter.matte(array))
    assert np.array_equal(a, matter.matte(np.dstack([array, np.full((24, 36), 9, np.uint8)])))  # RGBA: alpha dropped
    cut = matter.cutout(path)
    assert cut.shape == (24, 36, 4) and cut.dtype == np.uint8
    assert matter.cutout(path, "composite", (255, 0, 0)).shape == (24, 36, 3)
    # one background parser for every door: colour names, #rrggbb, r,g,b, tuples, paths, arrays
    green = matter.cutout(path, "composite", (0, 255, 0))
    for same in ("#00ff00", "0,255,0", "lime", np.array([0, 255, 0])):
        assert np.array_equal(matter.cutout(path, "composite", same), green), same
    backdrop = save(tmp_path / "bg.png", (10, 12), 7)
    by_path = matter.cutout(path, "composite", str(backdrop))
    assert np.array_equal(by_path, matter.cutout(path, "composite", np.asarray(Image.open(backdrop))))
    assert np.array_equal(by_path, matter.cutout(path, "composite", backdrop))
    with pytest.raises(TrtmatteError, match="neither a colour"):
        matter.cutout(path, "composite", "#12")
    # the batch door keeps the batch axis; matte() is one image
    assert matter(array).shape == (1, 24, 36) and matter(array[None]).shape == (1, 24, 36)
    assert "backend='onnxruntime'" in repr(matter) and "precision='fp32'" in repr(matter)
    assert f"model={matter.info.variant!r}" in repr(matter) and "device=" in repr(matter)
    with pytest.raises(TrtmatteError, match="must be uint8"):
        matter.matte(array.astype(np.float32))


def test_matte_video_takes_the_same_backgrounds(tmp_path, matter):
    pytest.importorskip("av", reason="PyAV is needed for video (pip install 'trtmatte[video]')")
    pytest.importorskip("pymatting", reason="pymatting is needed for composites (pip install 'trtmatte[cutout]')")
    from helpers.media import make_video

    from trtmatte.jobs import matte_video

    clip = make_video(tmp_path / "clip.mp4", 32, 24, frames=3)
    report = matte_video(matter, clip, tmp_path / "green.mp4", output_type="composite", background=(0, 255, 0))
    assert report.frames == 3
    with pytest.raises(TrtmatteError, match="neither a colour"):
        matte_video(matter, clip, tmp_path / "x.mp4", output_type="composite", background="nocolour")


def test_corrupt_h264_packets_are_a_warning_or_with_strict_an_error(tmp_path, matter):
    """Bytes flipped inside an H.264 stream: the decoder conceals the damage and returns garbled
    frames without an error; the job counts them (one warning naming the file), --strict fails it."""
    pytest.importorskip("av", reason="PyAV is needed for video (pip install 'trtmatte[video]')")
    from helpers.media import make_video

    data = bytearray(make_video(tmp_path / "clean.mp4", 64, 48, frames=24).read_bytes())
    for offset in np.random.default_rng(0).integers(len(data) // 3, 2 * len(data) // 3, 30):
        data[offset] ^= 0xFF
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "damaged.mp4").write_bytes(data)
    outcomes = []
    summary = MatteJob(matter, MatteJobOptions(), outcomes.append).run(plan_work([str(tmp_path / "in")], tmp_path / "out"))
    assert summary.done == 1 and (tmp_path / "out" / "damaged.mp4").is_file()
    (warning,) = outcomes[0].warnings
    assert "damaged.mp4" in warning and "frames were decoded from corrupt packets" in warning
    strict = MatteJob(matter, MatteJobOptions(strict=True)).run(plan_work([str(tmp_path / "in")], tmp_path / "strict"))
    assert strict.failed == 1 and "(--strict)" in strict.failures[0] and not (tmp_path / "strict" / "damaged.mp4").exists()


def test_pymatting_compile_is_announced_only_while_its_cache_is_missing(tmp_path, monkeypatch):
    import importlib.machinery

    from trtmatte import compose

    package = tmp_path / "pymatting"
    (package / "foreground" / "__pycache__").mkdir(parents=True)
    spec = importlib.machinery.ModuleSpec("pymatting", None, is_package=True)
    spec.submodule_search_locations = [str(package)]
    monkeypatch.setattr(compose.importlib.util, "find_spec", lambda name: spec)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert compose.foreground_compile_pending()
    (package / "foreground" / "__pycache__" / "estimate_foreground_ml._estimate_fb_ml-61.py311.nbi").write_bytes(b"")
    assert not compose.foreground_compile_pending()


def test_watch_takes_files_once_their_size_is_stable(tmp_path):
    from trtmatte.jobs import watch

    folder = tmp_path / "inbox"
    save(folder / "first.png")
    growing = folder / "growing.png"
    growing.write_bytes(b"\x89PNG partial")
    naps = []

    def sleep(seconds):  # between polls the "copy" of growing.png goes on, then completes
        naps.append(seconds)
        if len(naps) == 1:
            growing.write_bytes(b"\x89PNG partial, more")

    batches = watch([str(folder)], tmp_path / "out", interval=0.25, sleep=sleep)
    first = next(batches)  # sizes seen once, then again unchanged after one nap
    assert [i.source.name for i in first] == ["first.png"] and naps == [0.25]
    second = next(batches)
    assert [i.source.name for i in second] == ["growing.png"] and second[0].target == tmp_path / "out" / "growing.png"
    save(folder / "sub" / "later.png")
    assert [i.target.relative_to(tmp_path / "out").as_posix() for i in next(batches)] == ["sub/later.png"]
    with pytest.raises(TrtmatteError, match="--watch needs folders"):
        next(watch([str(folder / "first.png")], tmp_path / "out"))


def test_watch_retries_a_file_whose_copy_paused_and_gives_up_on_one_that_stays_broken(tmp_path, matter):
    """A copy that pauses longer than a poll is read half-written: the file is held, not failed,
    and taken again when it changes; one that stays unreadable fails in one line after give_up."""
    from trtmatte.jobs import watch

    folder, out = tmp_path / "inbox", tmp_path / "out"
    whole = save(tmp_path / "whole.png", (30, 40)).read_bytes()
    folder.mkdir()
    (folder / "paused.png").write_bytes(whole[:60])
    (folder / "broken.png").write_bytes(whole[:50])
    now = [0.0]
    watcher = watch([str(folder)], out, interval=1.0, sleep=lambda s: now.__setitem__(0, now[0] + s),
                    give_up=30.0, clock=lambda: now[0])
    outcomes = []
    job = MatteJob(matter, MatteJobOptions(), outcomes.append, retry=watcher.retry)
    summary = job.run(next(watcher))
    assert (summary.done, summary.failed) == (0, 0) and outcomes == []  # both held, neither failed yet
    (folder / "paused.png").write_bytes(whole)  # the copy goes on and completes
    summary = job.run(next(watcher))
    assert [o.item.source.name for o in outcomes] == ["paused.png"] and summary.done == 1
    summary = job.run(next(watcher))  # broken.png: unchanged for 30 s of (fake) clock
    assert summary.failed == 1 and now[0] >= 30.0
    (line,) = summary.failures
    assert "broken.png" in line and "unchanged for 30 s: gave up" in line and "\n" not in line
