"""The CLI end to end: help without GPU stacks, models, init/convert weights, matte, bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trtmatte._lazy import GPU_MODULES
from trtmatte.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trtmatte", *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **(env or {})}, timeout=300)


POISON = """
import os, sys
# Record who imported this module if the importer is a trtmatte module. Judged by the importing
# frame's *module* (its __spec__ name, so `python -m trtmatte`'s __main__ counts too), never by its
# file path: a clone in a folder named trtmatte, with its venv inside, puts cuda-bindings'
# _cuda_bindings_redirector (imported by a .pth at every start-up) under a `/trtmatte/` path. torch
# probing cuda.bindings on its own, inside a try/except ImportError, is not ours to police either.
frame = sys._getframe(1)
while frame is not None and (frame.f_code.co_filename.startswith('<frozen') or 'importlib' in frame.f_code.co_filename):
    frame = frame.f_back
spec = frame.f_globals.get('__spec__') if frame is not None else None
importer = spec.name if spec is not None else (frame.f_globals.get('__name__', '') if frame is not None else '')
if importer == 'trtmatte' or importer.startswith('trtmatte.'):
    with open(os.environ['TRTMATTE_POISON_LOG'], 'a') as log:
        log.write(__name__ + ' from ' + importer + ' (' + frame.f_code.co_filename + ')\\n')
raise ImportError(__name__ + ' is poisoned for this test')
"""


@pytest.fixture()
def poisoned_gpu_stacks(tmp_path):
    """Fake tensorrt/cuda/cupy/onnxruntime packages that log any import made by trtmatte code."""
    for name in GPU_MODULES:
        (tmp_path / f"{name}.py").write_text(POISON)
    log = tmp_path / "imports.log"
    return {"PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}", "TRTMATTE_POISON_LOG": str(log)}, log


def test_import_and_help_never_touch_gpu_stacks(poisoned_gpu_stacks):
    env, log = poisoned_gpu_stacks
    code = ("import pkgutil, importlib, sys, trtmatte\n"
            "for m in pkgutil.walk_packages(trtmatte.__path__, 'trtmatte.'):\n"
            "    if not m.name.endswith('__main__'):  # that one runs the CLI\n"
            "        importlib.import_module(m.name)\n"
            "from trtmatte.engine.flavour import import_tensorrt as tensorrt\n"
            "try:\n    tensorrt()\nexcept Exception as e:\n    print(type(e).__name__)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, **env}, timeout=300)
    assert r.returncode == 0, r.stderr
    # the explicit lazy request did reach the (poisoned) module: the log works ...
    assert r.stdout.strip() == "DependencyMissing"
    assert "tensorrt from" in log.read_text()
    log.unlink()
    # ... while importing every module and running --help reaches none
    for args in (["--help"], ["matte", "--help"], ["models", "--help"], ["convert-weights", "--help"]):
        r = run_cli(*args, env=env)
        assert r.returncode == 0 and "usage: trtmatte" in r.stdout, (args, r.stderr)
    r = subprocess.run([sys.executable, "-c", code.split("from trtmatte.engine.flavour")[0]], capture_output=True,
                       text=True, env={**os.environ, **env}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not log.exists(), log.read_text()


def test_lazy_require_names_install_hint():
    from trtmatte._lazy import require
    from trtmatte.errors import DependencyMissing

    with pytest.raises(DependencyMissing, match="no_such_pkg_xyz is not installed \\(needed for testing\\): pip install"):
        require("no_such_pkg_xyz", "testing")


def test_tensorrt_flavour_override_is_validated(monkeypatch):
    from trtmatte.engine.flavour import import_tensorrt
    from trtmatte.errors import DependencyMissing

    monkeypatch.setenv("TRTMATTE_TENSORRT", "tensorflow")
    with pytest.raises(DependencyMissing, match="unknown TensorRT flavour 'tensorflow'"):
        import_tensorrt()


def test_models_json(capsys):
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["late_fusion"]["parameters"] == 37_667_913
    assert rows["late_fusion"]["preprocessing"]["mean"] == [127.156207, 115.917443, 106.031127]
    assert rows["late_fusion_lite"]["encoder"] == "densenet121"


@pytest.fixture(scope="module")
def lite_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "lite.safetensors"
    assert main(["init-weights", "late_fusion_lite", "-o", str(path), "--seed", "1"]) == 0
    return path


def test_matte_end_to_end(tmp_path, lite_ckpt, photo):
    src = tmp_path / "astronaut.png"
    Image.fromarray(photo[::4, ::3]).save(src)  # 128 x 171: not multiples of 32
    out = tmp_path / "alpha.png"
    assert main(["matte", str(src), "-o", str(out), "--weights", str(lite_ckpt), "--max-side", "96"]) == 0
    alpha = np.asarray(Image.open(out))
    assert alpha.shape == (128, 171) and alpha.dtype == np.uint8

    # same result as the library session: the CLI adds only I/O
    import dataclasses

    from trtmatte.checkpoints.native import load_model
    from trtmatte.runtime import TorchSession
    model, info = load_model(lite_ckpt)
    session = TorchSession(model, dataclasses.replace(info.preprocessing, max_side=96), info.variant)
    expected = np.rint(session.run(photo[::4, ::3].copy())[0] * 255).astype(np.uint8)
    assert np.abs(alpha.astype(int) - expected).max() <= 1


def test_matte_several_images_into_directory(tmp_path, lite_ckpt):
    rng = np.random.default_rng(0)
    paths = []
    for name, shape in (("a.png", (40, 50, 3)), ("b.jpg", (33, 20, 3))):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(tmp_path / name)
        paths.append(str(tmp_path / name))
    Image.fromarray(rng.integers(0, 256, (30, 30, 4), dtype=np.uint8), mode="RGBA").save(tmp_path / "c.png")
    paths.append(str(tmp_path / "c.png"))  # alpha channel dropped, as the authors read
    outdir = tmp_path / "out"
    outdir.mkdir()
    assert main(["matte", *paths, "-o", str(outdir), "--weights", str(lite_ckpt), "--max-side", "64"]) == 0
    assert Image.open(outdir / "a.png").size == (50, 40)
    assert Image.open(outdir / "b.png").size == (20, 33)
    assert Image.open(outdir / "c.png").size == (30, 30)


@pytest.mark.parametrize("case", ["missing_image", "corrupt_image", "missing_weights", "bad_weights",
                                  "unwritable_output", "several_without_dir", "unknown_variant", "bad_max_side",
                                  "export_missing_weights", "export_unwritable", "export_bad_shape",
                                  "export_malformed_shape", "export_wrong_variant", "export_unknown_variant",
                                  "export_not_weights"])
def test_bad_input_one_line_exit_1(tmp_path, lite_ckpt, case):
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(good)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(good.read_bytes()[:40])
    bad_weights = tmp_path / "bad.safetensors"
    bad_weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    out = tmp_path / "alpha.png"
    w = ["--weights", str(lite_ckpt)]
    args, expect = {
        "missing_image": (["matte", str(tmp_path / "nope.png"), "-o", str(out), *w], "image .*nope.png not found"),
        "corrupt_image": (["matte", str(corrupt), "-o", str(out), *w], "cannot read image .*corrupt.png"),
        "missing_weights": (["matte", str(good), "-o", str(out), "--weights", str(tmp_path / "x.safetensors")],
                            "weights file .* not found"),
        "bad_weights": (["matte", str(good), "-o", str(out), "--weights", str(bad_weights)],
                        "not a readable safetensors file"),
        # a missing folder under a writable one is created (as for folder outputs); /proc takes no files
        "unwritable_output": (["matte", str(good), "-o", "/proc/no_dir/a.png", *w],
                              "cannot write -o /proc/no_dir/a.png: creating a file in /proc fails"),
        "several_without_dir": (["matte", str(good), str(good), "-o", str(out), *w], "need -o to be an existing directory"),
        "unknown_variant": (["init-weights", "late_fusion_xl", "-o", str(tmp_path / "m.safetensors")],
                            "unknown model variant 'late_fusion_xl'"),
        "bad_max_side": (["matte", str(good), "-o", str(out), *w, "--max-side", "0"], "--max-side must be at least 32"),
        "export_missing_weights": (["export", "--weights", str(tmp_path / "x.safetensors"), "-o", str(out)],
                                   "weights file .* not found"),
        "export_unwritable": (["export", *w, "-o", str(tmp_path / "no_dir" / "m.onnx")], "directory .*no_dir does not exist"),
        "export_bad_shape": (["export", *w, "-o", str(out), "--shape", "0x320"], "--shape must be positive"),
        "export_malformed_shape": (["export", *w, "-o", str(out), "--shape", "800by800"], "--shape must look like HxW"),
        "export_wrong_variant": (["export", *w, "--variant", "late_fusion", "-o", str(out)],
                                 "holds variant 'late_fusion_lite', not 'late_fusion'"),
        "export_unknown_variant": (["export", *w, "--variant", "late_fusion_xl", "-o", str(out)],
                                   "unknown model variant 'late_fusion_xl'"),
        "export_not_weights": (["export", "--weights", str(good), "-o", str(out)], "not a weights file trtmatte knows"),
    }[case]
    r = run_cli(*args)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtmatte: error: "), r.stderr
    import re
    assert re.search(expect, lines[0]), lines[0]
    assert "Traceback" not in r.stderr
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".") or p.name in ("alpha.png", "m.safetensors")]
    assert leftovers == []  # nothing half-written


def test_convert_weights_cli(tmp_path):
    import torch

    from trtmatte.checkpoints.keras import write_keras_h5
    from trtmatte.checkpoints.native import load_model
    from trtmatte.models import create_model
    from helpers.weights import randomize_

    model = randomize_(create_model("late_fusion_lite"), seed=5)
    h5 = tmp_path / "authors.h5"
    write_keras_h5(model, h5, variant="late_fusion_lite")
    out = tmp_path / "converted.safetensors"
    assert main(["convert-weights", str(h5), "-o", str(out), "--variant", "late_fusion_lite"]) == 0
    converted, info = load_model(out)
    assert info.provenance["weights"] == "converted from Keras HDF5"
    assert torch.equal(converted.fusion.conv_output.weight, model.fusion.conv_output.weight)


def test_matte_onnxruntime_backend(tmp_path, tiny_onnx, capsys):
    from trtmatte.runtime import OrtSession

    image = np.random.default_rng(1).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "in.png")
    out = tmp_path / "alpha.png"
    assert main(["matte", str(tmp_path / "in.png"), "-o", str(out), "--backend", "onnxruntime", "--onnx", str(tiny_onnx)]) == 0
    assert "backend: onnxruntime" in capsys.readouterr().out
    expected = np.rint(OrtSession(tiny_onnx).run(image)[0] * 255).astype(np.uint8)
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def test_matte_tensorrt_backend_builds_once_then_refuses_without_gpu(tmp_path, tiny_onnx, capsys, monkeypatch):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (pip install tensorrt-rtx-cu12) builds the engine")
    from trtmatte.engine.flavour import current_gpu

    if current_gpu() is not None:
        pytest.skip("this machine has a GPU: the no-GPU refusal cannot be shown")
    monkeypatch.setenv("TRTMATTE_CACHE", str(tmp_path / "cache"))
    Image.fromarray(np.zeros((400, 400, 3), np.uint8)).save(tmp_path / "in.png")
    args = ["matte", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.png"), "--backend", "tensorrt", "--onnx", str(tiny_onnx)]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "built now, cached for next time" in captured.out
    assert "no CUDA GPU found" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert main(args) == 1
    assert "(cached)" in capsys.readouterr().out  # the second run reuses the engine
    assert len(list((tmp_path / "cache").glob("*/engine.plan"))) == 1
    assert not (tmp_path / "a.png").exists()


@pytest.mark.parametrize("args,expect", [
    # --variant without a bundled model: nothing to fall back on (the bundled graph serves otherwise)
    (["--backend", "onnxruntime", "--variant", "late_fusion"], "--backend onnxruntime needs --onnx"),
    (["--backend", "tensorrt", "--variant", "late_fusion"], "--backend tensorrt needs --engine PLAN or --onnx"),
    # no --weights: the bundled demo model, or a one-line error while it is missing (tests/train/test_train.py)
    (["--backend", "onnxruntime", "--onnx", "x.onnx", "--max-side", "64"], "--max-side is baked into an exported graph"),
])
def test_matte_backend_argument_errors(tmp_path, args, expect, capsys):
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "in.png")
    assert main(["matte", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.png"), *args]) == 1
    assert expect in capsys.readouterr().err
