"""trtmatte.ray's parts without a running Ray: listing and naming, the writer, the image actor
called directly, actor planning, and the command's one-line errors (an address nobody answers,
Ray missing, --watch). The runs on Ray are in ray_in_netns.py (started by test_ray_netns.py)."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError
from trtmatte.jobs import plan_work
from trtmatte.media.image import read_pixels, write_image
from trtmatte.ray.listing import list_images, target_of, work_rows
from trtmatte.ray.sink import WriteOutputs, sweep_partials


@pytest.fixture
def tree(tmp_path, photo):
    root = tmp_path / "in"
    small = photo[::8, ::8]  # 64x64
    for name in ("a/x.png", "a/b/y.jpg", "z.png", ".hidden/h.png", "a/.h.png"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, small if "y" not in name else small[:40])
    return root


def test_list_images_and_target_of_name_outputs_as_the_job_does(tree, tmp_path):
    listed = list_images(str(tree))
    assert [rel for _, rel in listed] == ["a/b/y.jpg", "a/x.png", "z.png"]  # sorted, hidden and non-images left
    out = tmp_path / "out"
    planned = sorted(str(item.target) for item in plan_work([str(tree)], out, "rgba") if not item.error)
    assert sorted(target_of(rel, str(out), "rgba") for _, rel in listed) == planned
    assert list_images(str(tree), extensions=["jpg"]) == [(str(tree / "a/b/y.jpg"), "a/b/y.jpg")]
    with pytest.raises(TrtmatteError, match="no such folder"):
        list_images(str(tmp_path / "missing"))


def test_work_rows_leave_existing_outputs_and_planning_failures_to_the_driver(tree, tmp_path):
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / "x.png").write_bytes(b"done before")
    kinds = {}
    for what, value in work_rows(plan_work([str(tree)], out)):
        kinds.setdefault(what, []).append(value)
    assert [item.target for item in kinds["skipped"]] == [out / "a" / "x.png"]
    assert sorted(row["source"] for row in kinds["run"]) == [str(tree / "a/b/y.jpg"), str(tree / "z.png")]
    assert all(row["trimap"] == "" for row in kinds["run"])


def test_write_outputs_writes_names_skips_existing_and_reports_failures(tree, tmp_path):
    out = tmp_path / "out"
    picture = np.full((4, 5), 200, np.uint8)
    batch = {"path": np.array([str(tree / "a/x.png"), str(tree / "z.png"), str(tree / "a/b/y.jpg")], dtype=object),
             "picture": np.array([picture, picture, np.zeros((0, 0), np.uint8)], dtype=object),
             "error": np.array(["", "", "a/b/y.jpg: broken"], dtype=object)}
    (out).mkdir()
    (out / "z.png").write_bytes(b"kept")
    result = WriteOutputs(output=str(out), folders=[str(tree)])(batch)
    assert list(result["status"]) == ["done", "skipped", "failed"]
    assert list(result["error"])[2] == "a/b/y.jpg: broken"
    assert (read_pixels(out / "a" / "x.png", "L") == 200).all()
    assert (out / "z.png").read_bytes() == b"kept"
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["x.png", "z.png"]  # no temporary files


def test_sweep_partials_removes_a_killed_writers_temporary_files_only(tmp_path):
    (tmp_path / ".x.png.ab12cd34.part").write_bytes(b"half")
    (tmp_path / ".other.png.ab12cd34.part").write_bytes(b"someone else's")
    (tmp_path / "x.png").write_bytes(b"whole")
    assert sweep_partials([tmp_path / "x.png"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.png.ab12cd34.part", "x.png"]


def test_matte_images_groups_sizes_and_fails_bad_images_alone(photo):
    from trtmatte.ray.actor import MatteImages

    actor = MatteImages({"threads": 1})
    calls = []
    run = actor.matter.session.run
    actor.matter.session.run = lambda batch, *a: calls.append(np.shape(batch)) or run(batch, *a)
    small, tall = photo[::8, ::8], photo[:200:4, ::8]

    def png(image):
        buffer = io.BytesIO()
        from PIL import Image

        Image.fromarray(image).save(buffer, format="PNG")
        return buffer.getvalue()

    batch = {"bytes": np.array([png(small), b"not an image", png(tall), png(small)], dtype=object),
             "path": np.array(["s1.png", "bad.png", "t.png", "s2.png"], dtype=object)}
    result = actor(batch)
    assert sorted(shape[0] for shape in calls) == [1, 2]  # the two 64x64 images in one call
    assert "bad.png" in result["error"][1] and "\n" not in result["error"][1]
    assert [e for i, e in enumerate(result["error"]) if i != 1] == ["", "", ""]
    assert result["picture"][1].size == 0 and "bytes" not in result
    actor.matter.session.run = run
    for i, image in ((0, small), (2, tall), (3, small)):
        expected = np.rint(actor.matter.matte(image) * 255)  # one at a time
        assert np.abs(result["picture"][i].astype(int) - expected).max() <= 1


def test_plan_actors_splits_cores_and_gives_gpu_actors_a_gpu():
    import argparse

    from trtmatte.cli.ray_flags import plan_actors

    args = argparse.Namespace(ray_actors=None, device=None, threads=None)
    assert plan_actors(args, {"CPU": 2.0}, local=True) == (1, 2.0, 0.0, 2)
    args.ray_actors = 2
    assert plan_actors(args, {"CPU": 2.0}, local=True) == (2, 1.0, 0.0, 1)
    args.ray_actors, args.device = None, "cuda"
    assert plan_actors(args, {"CPU": 64.0, "GPU": 4.0}, local=False) == (4, 1.0, 1.0, None)
    with pytest.raises(TrtmatteError, match="no GPUs"):
        plan_actors(args, {"CPU": 64.0}, local=False)
    args.device = None
    assert plan_actors(args, {"CPU": 64.0}, local=False)[:2] == (16, 4.0)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, never listening: a connect is refused
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_nobody_answers_on_is_one_line_naming_it(tree, tmp_path, capsys):
    pytest.importorskip("ray.data", reason="Ray Data is needed (pip install 'trtmatte[ray]')")
    from trtmatte.cli.main import main

    address = f"127.0.0.1:{_closed_port()}"
    assert main(["matte", str(tree), "-o", str(tmp_path / "out"), "--ray", address]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trtmatte: error: cannot reach the Ray cluster at " + address)
    assert not (tmp_path / "out").exists()


def test_ray_missing_is_one_line_with_the_install_command(tree, tmp_path, capsys, monkeypatch):
    from trtmatte.cli.main import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["matte", str(tree), "-o", str(tmp_path / "out"), "--ray"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'trtmatte[ray]'" in err[0], err


def test_watch_with_ray_is_refused_in_one_line(tree, tmp_path, capsys):
    from trtmatte.cli.main import main

    assert main(["matte", str(tree), "-o", str(tmp_path / "out"), "--ray", "--watch"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--watch and --ray" in err[0]
