"""Suite-wide setup: tests/ on sys.path (helpers import as ``helpers.<module>``), the markers, the
`gpu` skip, and the fixtures more than one tests/<subpackage>/ folder uses. The tree mirrors
trtmatte/: tests/<subpackage>/test_*.py, top-level modules' tests in tests/ itself. Test folders
have no __init__.py, so test file basenames must be unique across the tree."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:  # pytest's default import mode does this too; importlib mode does not
    sys.path.insert(0, str(TESTS))

MARKERS = (
    "slow: full-size network runs (seconds each on 2 cores)",
    "gpu: needs an NVIDIA GPU (CUDA); skipped with the reason where none is present",
)
NO_GPU = "no NVIDIA GPU (CUDA) on this machine"


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)


_gpu: list = []  # [GpuInfo | None], asked once and only when a `gpu` test is about to run


@pytest.hookimpl(tryfirst=True)  # before skipif marks and fixtures: a test's own skips name what else is missing
def pytest_runtest_setup(item):
    if item.get_closest_marker("gpu") is None:
        return
    if not _gpu:
        from trtmatte.engine.flavour import current_gpu

        _gpu.append(current_gpu())
    if _gpu[0] is None:
        pytest.skip(NO_GPU)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real photo (scikit-image's bundled astronaut), uint8 RGB 512x512."""
    data = pytest.importorskip("skimage.data", reason="scikit-image is needed for its bundled photos")
    return data.astronaut()


@pytest.fixture(scope="session")
def late_fusion_export(tmp_path_factory):
    """The paper's network, BN re-estimated on photos, exported (float32 alpha) once per test session
    through the CLI with --check: (onnx path, checkpoint path, export+parity report dict).
    Exporting takes ~2 minutes on 2 cores, so parity (tests/export) and engine (tests/engine) tests share it."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is needed to export and check the graph")
    pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")
    import json

    from trtmatte.cli.main import main

    root = tmp_path_factory.mktemp("late_fusion")
    ckpt, onnx_path, report = root / "late_fusion.safetensors", root / "late_fusion.onnx", root / "report.json"
    assert main(["init-weights", "late_fusion", "--recalibrate-bn", "-o", str(ckpt)]) == 0
    code = main(["export", "--weights", str(ckpt), "-o", str(onnx_path), "--alpha-dtype", "float32", "--check",
                 "--json", str(report)])
    return onnx_path, ckpt, {"exit_code": code, **json.loads(report.read_text())}


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory):
    """TinyMatting (tests/helpers/tiny_model.py) exported with the real exporter: the whole-pipeline
    contract (uint8 image in, uint8 alpha out) in a graph that runs in milliseconds."""
    for module in ("onnxruntime", "onnx", "onnxscript", "onnxsim"):
        pytest.importorskip(module, reason=f"{module} is needed to export and run the tiny graph (pip install -e '.[test]')")
    from helpers.tiny_model import TinyMatting

    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config

    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    export_onnx(TinyMatting(), "late_fusion", get_config("late_fusion").preprocessing, path, ExportOptions())
    return path


@pytest.fixture(scope="session")
def adamatting_weights(tmp_path_factory):
    """adamatting_lite with BatchNorm statistics re-estimated on photos (trimaps from their rough
    outlines), so alpha varies like a real model's: the checkpoint path."""
    pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")
    from trtmatte.cli.main import main

    path = tmp_path_factory.mktemp("adamatting") / "adamatting_lite.safetensors"
    assert main(["init-weights", "adamatting_lite", "--recalibrate-bn", "-o", str(path)]) == 0
    return path


@pytest.fixture(scope="session")
def adamatting_export(adamatting_weights):
    """That checkpoint exported through the CLI with --check (uint8 alpha, the default; working
    side capped at 256 so the PyTorch reference runs in seconds): (onnx path, checkpoint path,
    export+parity report dict). Shared by the export, quantize, engine, runtime and CLI tests."""
    pytest.importorskip("onnxruntime", reason="onnxruntime is needed to export and check the graph")
    import json

    from trtmatte.cli.main import main

    onnx_path, report = adamatting_weights.with_suffix(".onnx"), adamatting_weights.with_name("report.json")
    code = main(["export", "--weights", str(adamatting_weights), "-o", str(onnx_path), "--max-side", "256",
                 "--check", "--json", str(report)])
    return onnx_path, adamatting_weights, {"exit_code": code, **json.loads(report.read_text())}
