"""The Ray half of tests/ray: run only inside a network namespace of its own where only loopback
exists (test_ray_netns.py starts it so), because Ray binds to the machine's interface address.

One Ray at a time, within ~2 GB: first `trtmatte matte --ray local` (its own local Ray, in a
subprocess), then one two-worker-node cluster (ray.cluster_utils.Cluster) for the rest of the
module, shut down at the end. Faults are triggered by events (an actor's marker file), with
generous bounds only against hangs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is needed (pip install 'trtmatte[ray]')")
pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")

from ray_faults import stalling_actor  # noqa: E402

from trtmatte.cli.main import main  # noqa: E402
from trtmatte.jobs import MatteJobOptions, plan_work  # noqa: E402
from trtmatte.media.image import read_pixels, write_image  # noqa: E402
from trtmatte.ray import MatteImages, RayMatteJob, WriteOutputs, list_images  # noqa: E402

BOUND_S = 600  # against hangs only (generous: a loaded 2-core machine starts actors slowly)
OBJECT_STORE = 100 * 1024 * 1024


def wait_for(what, predicate):
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def files(root: Path) -> list[str]:
    """Every file below root, hidden and temporary ones included, relative."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """12 real photos (scikit-image's), nested two levels, PNG and JPEG, small."""
    from trtmatte.data.photos import named_photos

    root = tmp_path_factory.mktemp("photos")
    named = named_photos(96)
    for i in range(12):
        name, image = named[i % len(named)]
        folder = root / ("a" if i % 2 else "b/c")
        folder.mkdir(parents=True, exist_ok=True)
        write_image(folder / f"{name}_{i}.{'jpg' if i % 3 == 0 else 'png'}", image)
    return root


@pytest.fixture(scope="module")
def plain(photos, tmp_path_factory):
    """What `trtmatte matte` writes without Ray."""
    out = tmp_path_factory.mktemp("plain") / "out"
    assert main(["matte", str(photos), "-o", str(out), "--no-progress"]) == 0
    return out


def assert_same_outputs(out: Path, plain: Path) -> None:
    assert files(out) == files(plain)  # the same names, nothing extra (no temporary files)
    for name in files(plain):
        a = read_pixels(plain / name, "L").astype(int)
        b = read_pixels(out / name, "L").astype(int)
        assert np.abs(a - b).max() <= 1, name


def test_cli_ray_local_writes_what_the_plain_job_writes(photos, plain, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "trtmatte", "matte", str(photos), "-o", str(out), "--ray", "local",
           "--no-progress"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=BOUND_S)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "done 12, skipped 0, failed 0" in first.stdout
    assert "Ray actor" in first.stdout
    assert_same_outputs(out, plain)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=BOUND_S)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "done 0, skipped 12, failed 0" in again.stdout


@pytest.fixture(scope="module")
def cluster():
    """A head without CPUs (the driver's) and two one-CPU worker nodes: actors land on workers."""
    from ray.cluster_utils import Cluster

    made = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "object_store_memory": OBJECT_STORE,
                                                         "include_dashboard": False})
    try:
        for _ in range(2):
            made.add_node(num_cpus=1, object_store_memory=OBJECT_STORE)
        made.wait_for_nodes()
        ray.init(address=made.address, logging_level="warning")
        yield made
    finally:
        ray.shutdown()
        made.shutdown()


def run_stalled(photos: Path, out: Path, markers: Path, damage) -> object:
    """Run the job with one stalling actor; ``damage(pid, node_id)`` acts when its first batch starts."""
    markers.mkdir()
    errors: list[BaseException] = []

    def act():
        try:
            started = wait_for("an actor to start a batch", lambda: sorted(markers.glob("started-*")))
            damage(int(started[0].name.split("-")[1]), started[0].read_text())
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            (markers / "released").write_text("")

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    job = RayMatteJob({"threads": 1}, MatteJobOptions(jobs=1), actors=1, cpus_per_actor=1,
                      actor=stalling_actor(str(markers)))
    summary = job.run(plan_work([str(photos)], out))
    thread.join(BOUND_S)
    assert not errors, errors
    return summary


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_actor_killed_mid_batch_is_restarted_and_every_output_written_once(cluster, photos, plain, tmp_path):
    killed = []

    def kill(pid, node):
        os.kill(pid, signal.SIGKILL)
        wait_for(f"actor process {pid} to end", lambda: gone(pid))
        killed.append(pid)

    summary = run_stalled(photos, tmp_path / "out", tmp_path / "markers", kill)
    assert killed
    assert (summary.done, summary.skipped, summary.failed) == (12, 0, 0), summary.failures
    assert_same_outputs(tmp_path / "out", plain)


def test_matte_images_and_write_outputs_on_a_dataset(cluster, photos, plain, tmp_path):
    out = tmp_path / "out"
    paths = [path for path, _ in list_images(str(photos))]
    dataset = ray.data.read_binary_files(paths, include_paths=True)
    dataset = dataset.map_batches(MatteImages, fn_constructor_kwargs={"matter": {"threads": 1}}, batch_size=6,
                                  compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1)
    # the writer takes no CPU of its own: the two workers' CPUs go to the matting actor and the reads
    dataset = dataset.map_batches(WriteOutputs, fn_constructor_kwargs={"output": str(out), "folders": [str(photos)]},
                                  compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0)
    rows = dataset.take_all()
    assert sorted(r["status"] for r in rows) == ["done"] * 12, [r["error"] for r in rows]
    assert_same_outputs(out, plain)


def test_an_actor_that_cannot_open_its_model_is_one_trtmatte_error(cluster, photos, tmp_path):
    from trtmatte.errors import TrtmatteError

    job = RayMatteJob({"threads": 1}, MatteJobOptions(jobs=1), trimaps_given=True)  # a trimap-free model
    with pytest.raises(TrtmatteError) as caught:
        job.run(plan_work([str(photos)], tmp_path / "out"))
    assert "is trimap-free: drop --trimap" in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists() or files(tmp_path / "out") == []  # nothing written


def test_node_removed_mid_batch_the_actor_moves_and_every_output_is_written_once(cluster, photos, plain, tmp_path):
    removed = []

    def remove(pid, node_id):
        node = next(n for n in cluster.list_all_nodes() if n.node_id == node_id)
        cluster.remove_node(node)
        removed.append(node_id)

    summary = run_stalled(photos, tmp_path / "out", tmp_path / "markers", remove)
    assert removed
    assert (summary.done, summary.skipped, summary.failed) == (12, 0, 0), summary.failures
    assert_same_outputs(tmp_path / "out", plain)
