from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRTMATTE_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "reference").is_dir():
        pytest.skip(f"reference data not found: {SHARED}/reference (CI checks out ../shared beside the repo; "
                    "or set TRTMATTE_SHARED)")
    return SHARED


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter and BN statistic a distinct random value, so copies can be told apart."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g) * 0.05)
            else:
                t.fill_(int(torch.randint(0, 100, (), generator=g)))
    return model


@pytest.fixture(scope="session")
def late_fusion():
    from trtmatte.models import create_model

    torch.manual_seed(0)
    return create_model("late_fusion")


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real photo (scikit-image's bundled astronaut), uint8 RGB 512x512."""
    data = pytest.importorskip("skimage.data", reason="scikit-image is needed for its bundled photos")
    return data.astronaut()


@pytest.fixture(scope="session")
def late_fusion_export(tmp_path_factory):
    """The paper's network, BN re-estimated on photos, exported (float32 alpha) once per test session
    through the CLI with --check: (onnx path, checkpoint path, export+parity report dict).
    Exporting takes ~2 minutes on 2 cores, so parity and engine tests share it."""
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
