"""Every registered variant (``trtmatte.models.list_models()``) builds, runs a tiny image, round-trips
through a checkpoint, and exports to a graph that onnxruntime runs like PyTorch. Parametrized over
the registry: a new variant is covered without new test code.

Cost on 2 cores: building and running a variant takes seconds; the ONNX export dominates (torch.export
and the exporter's passes, ~20 s for late_fusion_lite and ~30 s for late_fusion even at a static
1x64x80 shape without onnx-simplifier). So each variant is exported once for this module (static
shape, no simplifier), and late_fusion reuses the export the suite makes anyway for the parity and
engine tests (``late_fusion_export`` in tests/conftest.py: dynamic shapes, simplified, BN re-estimated).
Trimap-based variants (``ModelConfig.needs_trimap``) are fed a trimap with every image.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from trtmatte.checkpoints.native import load_model, save_checkpoint
from trtmatte.models import create_model, get_config, list_models
from trtmatte.models.matting_pipeline import MattingPipeline

IMAGE = np.random.default_rng(0).integers(0, 256, (1, 64, 80, 3), dtype=np.uint8)
TRIMAP = np.random.default_rng(1).choice(np.array([0, 128, 255], np.uint8), (1, 64, 80))
TINY_SIDE = 64  # max_side: the network runs at 64 x 64 whatever the variant's own cap
# Variants whose graph a session fixture already exports: (fixture, what it returns -> (onnx, checkpoint)).
SUITE_EXPORTS = {"late_fusion": "late_fusion_export"}


def trimap_for(variant: str) -> np.ndarray | None:
    """The trimap fed with IMAGE: None for trimap-free variants."""
    return TRIMAP if get_config(variant).needs_trimap else None


def alpha_of(model, pre, image: np.ndarray, trimap: np.ndarray | None = None) -> torch.Tensor:
    with torch.no_grad():
        return MattingPipeline(model, pre)(torch.from_numpy(image), None if trimap is None else torch.from_numpy(trimap)).alpha


@pytest.fixture(scope="module", params=list_models())
def variant(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(variant):
    torch.manual_seed(0)
    return create_model(variant)


@pytest.fixture(scope="module")
def exported(request, variant, model, tmp_path_factory):
    """(onnx path, the network it holds, the pre-processing it was exported with), once per variant."""
    for module in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(module, reason=f"{module} is needed to export and run the graph (pip install -e '.[test]')")
    if variant in SUITE_EXPORTS:
        try:
            onnx_path, ckpt, _ = request.getfixturevalue(SUITE_EXPORTS[variant])
        except pytest.skip.Exception:  # that fixture needs more (scikit-image): export here instead
            pass
        else:
            network, _ = load_model(ckpt)
            return onnx_path, network, get_config(variant).preprocessing
    from trtmatte.export import ExportOptions, export_onnx

    pre = dataclasses.replace(get_config(variant).preprocessing, max_side=TINY_SIDE)
    path = tmp_path_factory.mktemp(variant) / f"{variant}.onnx"
    export_onnx(model, variant, pre, path,
                ExportOptions(static_shape=IMAGE.shape[:3], simplify=False, alpha_dtype="float32"))
    return path, model, pre


def test_tiny_forward(variant, model):
    pre = dataclasses.replace(get_config(variant).preprocessing, max_side=TINY_SIDE)
    assert bool(getattr(model, "needs_trimap", False)) == get_config(variant).needs_trimap
    alpha = alpha_of(model, pre, IMAGE, trimap_for(variant))
    assert alpha.shape == (1, 64, 80) and alpha.dtype == torch.float32
    assert torch.isfinite(alpha).all()
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0


def test_checkpoint_round_trip(variant, model, tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(model, tmp_path / f"{variant}.safetensors", variant, provenance={"weights": "test"})
    with safe_open(str(path), "pt") as f:
        assert f.metadata()["variant"] == variant
    loaded, info = load_model(path)
    assert info.variant == variant and info.format == "trtmatte"
    assert info.preprocessing == get_config(variant).preprocessing
    assert type(loaded) is type(model) and not loaded.training
    want, got = model.state_dict(), loaded.state_dict()
    assert list(got) == list(want)
    for key, value in want.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key


def test_export_runs_in_onnxruntime_like_torch(variant, exported):
    from trtmatte.runtime import OrtSession

    onnx_path, network, pre = exported
    session = OrtSession(onnx_path)
    assert session.metadata["variant"] == variant
    assert session.needs_trimap == get_config(variant).needs_trimap
    trimap = trimap_for(variant)
    got = session.run(IMAGE) if trimap is None else session.run(IMAGE, trimap)
    want = alpha_of(network, pre, IMAGE, trimap).numpy()
    assert got.shape == want.shape == (1, 64, 80) and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-4
