"""Output safety (trtmatte/jobs/outputs.py): no input is ever overwritten, an output folder inside
the input is left out of it, and an unwritable or ill-suffixed output is refused when the plan is
made, before any inference. Then the whole batch over a folder of hostile inputs."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from helpers import hostile
from PIL import Image

from trtmatte.errors import TrtmatteError
from trtmatte.jobs import MatteJob, MatteJobOptions, plan_work
from trtmatte.runtime.matter import Matter
from helpers.images import save_image  # noqa: E402


def save(path: Path, shape=(20, 30), seed=0) -> Path:
    return save_image(path, shape, seed)


def test_output_that_is_an_input_is_refused_naming_both(tmp_path):
    d = tmp_path / "d"
    a, b = save(d / "a.png"), save(d / "b.png", seed=1)
    cases = [([str(d)], d, "is the input folder"),
             ([str(a)], a, "is the input file"),
             ([str(d / "*.png")], d, "is the input folder"),  # a glob's base folder
             ([str(d)], tmp_path / "link", "is the input folder")]  # a symlink to the input
    (tmp_path / "link").symlink_to(d)
    for inputs, output, message in cases:
        with pytest.raises(TrtmatteError, match=message) as caught:
            plan_work(inputs, output)
        assert str(output) in str(caught.value) and inputs[0] in str(caught.value)
    # files named directly into their own folder: each would overwrite itself, each fails alone
    items = list(plan_work([str(a), str(b)], d))
    assert all("would overwrite an input of this run" in i.error for i in items)


def test_output_folder_inside_the_input_is_left_out(tmp_path):
    d = tmp_path / "d"
    save(d / "a.png"), save(d / "sub" / "b.png", seed=1)
    save(d / "out" / "a.png", seed=2)  # a previous run's output
    names = [i.source.relative_to(d).as_posix() for i in plan_work([str(d)], d / "out")]
    assert names == ["a.png", "sub/b.png"]
    assert [i.source.name for i in plan_work([str(d / "**" / "*.png")], d / "out")] == ["a.png", "b.png"]


def test_a_target_that_is_an_existing_input_fails_alone(tmp_path):
    """``matte d/sub -o d`` writes d/sub/sub/x.png's matte to d/sub/x.png, an input: refused."""
    d = tmp_path / "d"
    save(d / "sub" / "x.png"), save(d / "sub" / "sub" / "x.png", seed=1), save(d / "sub" / "y.png", seed=2)
    items = {i.source.relative_to(d).as_posix(): i for i in plan_work([str(d / "sub")], d)}
    assert items["sub/sub/x.png"].error and "would overwrite an input" in items["sub/sub/x.png"].error
    assert items["sub/x.png"].error is None and items["sub/y.png"].error is None


@pytest.mark.parametrize("output, args, message", [
    ("/proc/trtmatte_x", {}, "creating a file in /proc fails"),
    ("{tmp}/a.txt", {}, ".txt is not an image type"),
    ("{tmp}/a.jpg", {"output_type": "rgba"}, "has no alpha channel"),
    ("{tmp}/a.png/deeper", {}, "is a file, not a folder"),
])
def test_unwritable_or_ill_suffixed_output_is_one_line_at_planning(tmp_path, output, args, message):
    image = save(tmp_path / "in" / "a.png")
    (tmp_path / "a.png").write_bytes(b"x")
    inputs = [str(image)] if "deeper" not in output else [str(tmp_path / "in")]
    with pytest.raises(TrtmatteError, match=message) as caught:
        plan_work(inputs, output.format(tmp=tmp_path), **args)
    assert "\n" not in str(caught.value)
    assert not list(tmp_path.glob(".trtmatte-probe-*"))


@pytest.mark.parametrize("field, value, message", [("max_pixels", -5, "--max-pixels must be 0"),
                                                    ("jobs", 0, "--jobs must be at least 1"),
                                                    ("output_type", "mask", "unknown output type"),
                                                    ("background", "nocolour", "neither a colour")])
def test_job_options_are_checked_when_made(field, value, message):
    with pytest.raises(TrtmatteError, match=message):
        MatteJobOptions(**{field: value})


@pytest.fixture(scope="module")
def matter(tiny_onnx):
    with Matter("onnxruntime", onnx=tiny_onnx) as m:
        yield m


@pytest.mark.parametrize("output_type", ["alpha", "rgba"])
def test_whole_batch_over_hostile_inputs(tmp_path, matter, output_type):
    """Every hostile file: matted, failed in one line, or named as unsupported; the input folder is
    byte-identical afterwards and the output holds complete files only (1x1 rgba included)."""
    pytest.importorskip("pymatting", reason="pymatting is needed for rgba (pip install 'trtmatte[cutout]')")
    src, out = tmp_path / "in", tmp_path / "in" / "mattes"  # the output inside the input, as users do
    expected = hostile.make(src)
    before = hostile.digest(src)
    outcomes = []
    options = MatteJobOptions(output_type=output_type, max_pixels=hostile.MAX_PIXELS)
    summary = MatteJob(matter, options, outcomes.append).run(plan_work([str(src)], out, output_type))
    by = {s: sorted(o.item.source.relative_to(src).as_posix() for o in outcomes if o.status == s)
          for s in ("done", "failed", "unsupported")}
    assert by == {"done": sorted(expected.done), "failed": sorted(expected.failed),
                  "unsupported": sorted(expected.unsupported)}
    assert all("\n" not in o.error for o in outcomes)
    assert "skipped 2 unsupported (notes.txt, photo.heic)" in summary.line()
    for rel in expected.done:
        with Image.open(out / Path(rel).with_suffix(".png")) as im:
            assert im.mode == ("L" if output_type == "alpha" else "RGBA")
    assert Image.open(out / "exif_rotated.png").size == (10, 20)  # upright
    assert {k: v for k, v in hostile.digest(src).items() if not k.startswith("mattes/")} == before
    again = MatteJob(matter, options).run(plan_work([str(src)], out, output_type))  # no mattes/mattes
    assert again.done == len(expected.done) and not (out / "mattes").exists()
    assert not [p for p in out.rglob("*") if p.name.endswith(".part") or p.name.startswith(".")]
    assert os.listdir(out)
