"""Parity of the exported whole-pipeline graph with PyTorch, on the real networks and real photos.

Weights: random initialisation with BatchNorm statistics re-estimated on scikit-image's photos
(`init-weights --recalibrate-bn`), so alpha has a real spread (asserted) and parity means something.
These are the slowest tests (the paper's network exports in ~2 minutes on 2 cores).
"""
from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is needed for parity tests")
pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")

from trtmatte.cli.main import main  # noqa: E402
from helpers.parity import check_parity_report as _check_report  # noqa: E402


def _init(tmp_path_factory, variant):
    path = tmp_path_factory.mktemp(variant) / f"{variant}.safetensors"
    assert main(["init-weights", variant, "--recalibrate-bn", "-o", str(path)]) == 0
    return path


def _parse_with_tensorrt(path, alpha_dtype):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (tensorrt-rtx-cu12) is needed to parse with TensorRT")
    from trtmatte.engine.parser import parse_onnx

    io = parse_onnx(path, flavour="tensorrt_rtx").io_summary()
    assert io["inputs"] == [("image", "UINT8", (-1, -1, -1, 3))]
    assert io["outputs"] == [("alpha", alpha_dtype, (-1, -1, -1))]


def test_paper_network_float32(late_fusion_export):
    onnx_path, _, report = late_fusion_export
    assert report["exit_code"] == 0
    _check_report(report, "float32")
    assert report["export"]["metadata"]["variant"] == "late_fusion"
    assert "BatchNorm statistics re-estimated" in report["export"]["metadata"]["weights_provenance"]
    _parse_with_tensorrt(onnx_path, "FLOAT")


def test_lite_network_uint8(tmp_path_factory):
    ckpt = _init(tmp_path_factory, "late_fusion_lite")
    out = ckpt.parent / "lite.onnx"
    report_path = ckpt.parent / "report.json"
    assert main(["export", "--weights", str(ckpt), "-o", str(out), "--check", "--json", str(report_path)]) == 0
    _check_report(json.loads(report_path.read_text()), "uint8")
    _parse_with_tensorrt(out, "UINT8")
