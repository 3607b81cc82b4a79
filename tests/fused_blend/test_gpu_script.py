"""tests/gpu/plugin_kernel.py runs only on a GPU machine; here: its arguments, its dry run,
and that everything it compiles (kernel, CPU twin, the compute-sanitizer driver) compiles."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from helpers.gpu_scripts import load_script, run_script


@pytest.fixture(scope="module")
def script():
    return load_script("plugin_kernel")


def test_arguments(script):
    args = script.parse_args(["--out", "/tmp/x"])
    assert args.sizes == [(800, 800), (2048, 2048)] and args.check_size == (2048, 2048) and args.arch == "90"
    assert script.parse_args(["--sizes", "64x96", "--out", "o"]).sizes == [(64, 96)]
    for bad in (["--sizes", "80x"], ["--sizes", "0x5"], ["--iters", "0"]):
        with pytest.raises(SystemExit):
            script.parse_args(bad)


def test_dry_run_prints_the_plan(tmp_path):
    r = run_script("plugin_kernel", "--dry-run", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert "-gencode=arch=compute_90,code=sm_90" in plan["build"]["kernel"]
    assert not any(tmp_path.iterdir())  # nothing written, no GPU touched


def test_everything_it_compiles_compiles(script, tmp_path):
    nvcc = os.environ.get("CUDACXX") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not os.path.exists(nvcc) or shutil.which("g++") is None:
        pytest.skip("nvcc and g++ are needed to compile the script's kernel, CPU twin and sanitizer driver")
    logged = []
    result = script.run_build(tmp_path / "build", "90", lambda *parts: logged.append(parts))
    assert {k: v["rc"] for k, v in result.items()} == {"kernel": 0, "cpu": 0, "driver": 0}
    from trtmatte.fused_blend.fatbin import architectures

    assert architectures(tmp_path / "build" / "libtrtmatte_blend_kernel.so")["sass"] == [90]
    assert os.access(tmp_path / "build" / "blend_driver", os.X_OK)
