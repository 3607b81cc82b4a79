"""benchmarks/gpu/carry_rtx.sh measures the working tree before minutes of xz: a transfer to the GPU
machine holds 64 MiB, tree included, and the TensorRT-RTX runtime must fit beside it in its parts.
Run here on a small git repository holding a copy of the script (the real tree's size changes
with everyone's work)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from helpers.gpu_scripts import GPU_SCRIPTS


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the working tree")
    (tmp_path / "benchmarks" / "gpu").mkdir(parents=True)
    shutil.copy(GPU_SCRIPTS / "carry_rtx.sh", tmp_path / "benchmarks" / "gpu" / "carry_rtx.sh")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def carry(repo, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(repo / "benchmarks" / "gpu" / "carry_rtx.sh"), *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHON": "false"})


def test_check_reports_the_room_left(repo):
    r = carry(repo, "--check")
    assert r.returncode == 0, r.stderr
    assert "of the 64.0 MiB one transfer holds; room per carried part 62.0 MiB" in r.stdout


def test_a_tree_that_leaves_no_room_is_refused_in_one_line(repo):
    with open(repo / "weights.bin", "wb") as f:  # untracked, not ignored: it travels
        f.truncate(40 << 20)
    r = carry(repo)  # refused before the venv is even asked (PYTHON=false would fail)
    assert r.returncode == 1
    error = [line for line in r.stderr.splitlines() if line.startswith("trtmatte: error:")]
    assert len(error) == 1 and "do not fit beside this tree" in error[0]
    assert "weights.bin (40.0 MiB)" in r.stdout
    (repo / ".gitignore").write_text("weights.bin\n")  # ignored files do not travel
    assert carry(repo, "--check").returncode == 0


@pytest.mark.parametrize("args", [["--parts", "0"], ["--parts", "two"], ["--frobnicate"]])
def test_bad_arguments(repo, args):
    r = carry(repo, *args)
    assert r.returncode == 1 and r.stderr.startswith("trtmatte: error:")
