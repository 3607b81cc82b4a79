"""benchmarks/gpu/run_all.{sh,py}, the one GPU run of issue #31, without a GPU: its arguments, the
time box and JSON of every part (a part that raises, hangs or writes its own JSON and fails), the
budget that skips a part it cannot fit, and the shell entry point joining carried TensorRT-RTX
parts before the parts run (or saying why it cannot)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest

from helpers.gpu_scripts import GPU_SCRIPTS, REPO, load_script


@pytest.fixture(scope="module")
def run_all():
    return load_script("run_all")


def test_arguments(run_all):
    args = run_all.parse_args(["--out", "/tmp/x"])
    assert [p.name for p in args.parts] == ["compute_sanitizer", "tensorrt_rtx", "side_by_side", "onnxruntime_cuda"]
    assert [p.result for p in args.parts] == ["gpu_compute_sanitizer.json", "gpu_tensorrt_rtx.json",
                                              "gpu_side_by_side.json", "gpu_onnxruntime_cuda.json"]
    assert all(p.script.is_file() for p in args.parts)
    assert sum(p.box_s for p in args.parts) <= args.budget  # the parts' own boxes fit the 8 minutes
    picked = run_all.parse_args(["--parts", "side_by_side,tensorrt_rtx", "--box", "tensorrt_rtx=30"])
    assert [(p.name, p.box_s) for p in picked.parts] == [("tensorrt_rtx", 30), ("side_by_side", 150)]
    for bad in (["--parts", "nope"], ["--box", "tensorrt_rtx"], ["--box", "nope=3"], ["--box", "side_by_side=0"],
                ["--budget", "5"]):
        with pytest.raises(SystemExit):
            run_all.parse_args(bad)


def part(run_all, tmp_path, name: str, body: str, box_s: int = 60):
    script = tmp_path / f"{name}.py"
    script.write_text("import argparse, json, pathlib, sys, time\n"
                      "p = argparse.ArgumentParser(); p.add_argument('--out'); p.add_argument('--work')\n"
                      "p.add_argument('--dry-run', action='store_true'); args = p.parse_args()\n" + body)
    return run_all.Part(name, script, f"gpu_{name}.json", box_s)


def test_a_part_that_raises_still_yields_its_json(run_all, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gpu_broken.json").write_text('{"stale": true}')  # from an earlier run: not this run's answer
    row = run_all.run_part(part(run_all, tmp_path, "broken", "print('building'); raise RuntimeError('builder said no')\n"),
                           out, tmp_path / "work", 60, False, lambda m: None)
    written = json.loads((out / "gpu_broken.json").read_text())
    assert row["exit"] == 1 and "exited with status 1" in row["error"]
    assert written["error"] == row["error"] and "stale" not in written
    assert "RuntimeError: builder said no" in written["output_tail"] and "building" in written["output_tail"]


def test_a_part_that_hangs_is_killed_at_its_box(run_all, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    logged = []
    hang = part(run_all, tmp_path, "hang", "print('started', flush=True)\ntime.sleep(600)\n")
    row = run_all.run_part(hang, out, tmp_path / "work", 3, False, logged.append)
    written = json.loads((out / "gpu_hang.json").read_text())
    assert row["exit"] is None and written["error"] == "timed out after 3 s (its time box) and was killed"
    assert "started" in written["output_tail"] and any("timed out" in line for line in logged)


def test_a_failing_part_keeps_the_json_it_wrote(run_all, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    body = ("pathlib.Path(args.out, 'gpu_half.json').write_text(json.dumps({'device': 'x', 'ran': False}))\n"
            "sys.exit(3)\n")
    row = run_all.run_part(part(run_all, tmp_path, "half", body), out, tmp_path / "work", 60, True, lambda m: None)
    written = json.loads((out / "gpu_half.json").read_text())
    assert row["exit"] == 3 and written == {"device": "x", "ran": False, "error": "half.py exited with status 3"}


def test_the_budget_skips_what_it_cannot_fit(run_all, tmp_path):
    out = tmp_path / "out"
    code = run_all.main(["--out", str(out), "--work", str(tmp_path / "work"), "--parts",
                         "compute_sanitizer,onnxruntime_cuda", "--budget", "15"])
    summary = json.loads((out / "run_all.json").read_text())
    skipped = json.loads((out / "gpu_compute_sanitizer.json").read_text())
    assert "under 10 s for compute_sanitizer" in skipped["skipped"]
    # the last part still ran: on this machine onnxruntime has no CUDA provider, and it says so
    ort = json.loads((out / "gpu_onnxruntime_cuda.json").read_text())
    assert "no CUDAExecutionProvider" in ort["skipped"] and "243.7 MiB" in ort["skipped"]
    assert [row["part"] for row in summary["parts"]] == ["compute_sanitizer", "onnxruntime_cuda"] and code == 0
    assert "onnxruntime_cuda" in (out / "run_all.log").read_text()


def carried_parts(tmp_path, corrupt: bool = False):
    """What carry_rtx.sh writes, for a tiny stand-in runtime: .gpu-carry/part{1,2}/ with the sha256."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in (("site/TENSORRT_RTX_VERSION", b"1.7.1.116 cp312\n"), ("site/lib.so.1", os.urandom(4096))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    carry = tmp_path / "carry"
    for i, piece in enumerate((blob[: len(blob) // 2], blob[len(blob) // 2:])):
        folder = carry / f"part{i + 1}"
        folder.mkdir(parents=True)
        (folder / f"rtx.tar.xz.{i:02d}").write_bytes(piece[:-1] if corrupt and i else piece)
        (folder / "rtx.tar.xz.sha256").write_text(f"{digest}  rtx.tar.xz\n")
    return carry


def run_sh(tmp_path, carry, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OUT": str(tmp_path / "out"), "TRTMATTE_RTX_DIR": str(tmp_path / "rtx"),
           "TRTMATTE_CARRY_DIR": str(carry), "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(GPU_SCRIPTS / "run_all.sh"), "--parts", "onnxruntime_cuda", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_entry_point_joins_the_carried_runtime_then_runs(tmp_path):
    r = run_sh(tmp_path, carried_parts(tmp_path))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert (tmp_path / "rtx" / "site" / "TENSORRT_RTX_VERSION").read_text().startswith("1.7.1.116 cp312")
    assert not list((tmp_path / "rtx").glob("rtx.tar.xz*"))  # the parts are gone once unpacked
    log = (tmp_path / "out" / "run_all.log").read_text()
    assert "unpacked to" in log and json.loads((tmp_path / "out" / "run_all.json").read_text())["parts"]


def test_a_damaged_part_is_reported_and_the_run_goes_on(tmp_path):
    r = run_sh(tmp_path, carried_parts(tmp_path, corrupt=True))
    log = (tmp_path / "out" / "run_all.log").read_text()
    assert "do not match their sha256" in log and not (tmp_path / "rtx" / "site").exists()
    assert r.returncode == 0 and (tmp_path / "out" / "gpu_onnxruntime_cuda.json").is_file()


def test_the_hard_limit_ends_the_part_in_flight(run_all):
    # run_all.sh's `timeout` sends SIGTERM to run_all.py; a part runs in its own session, so
    # run_all.py must end it, or it would go on running on the GPU machine
    part = subprocess.Popen(["sleep", "600"], start_new_session=True)
    run_all.RUNNING[:] = [part]
    try:
        with pytest.raises(SystemExit) as exited:
            run_all.end_running_part(15, None)
        assert exited.value.code == 124 and part.wait(timeout=60) == -9
    finally:
        run_all.RUNNING.clear()
        if part.poll() is None:
            part.kill()
