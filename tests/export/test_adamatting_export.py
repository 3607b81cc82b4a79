"""AdaMatting's whole-pipeline graph: the two-input contract, parity with PyTorch on real photos
with real-looking trimaps (float32 within 1e-4, uint8 within one level), the export options for
trimap models, and TensorRT's parser reading the unrolled propagation unit."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed for parity tests")
pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")

from trtmatte.cli.main import main  # noqa: E402
from trtmatte.contract.names import ALPHA, IMAGE, TRIMAP, TRIMAP_ADAPTED  # noqa: E402
from helpers.parity import check_parity_report as check_report  # noqa: E402


def test_uint8_parity_within_one_level(adamatting_export):
    _, _, report = adamatting_export
    assert report["exit_code"] == 0
    check_report(report, "uint8")
    meta = report["export"]["metadata"]
    assert meta["variant"] == "adamatting_lite" and meta["family"] == "adamatting"
    assert meta["inputs"] == "image,trimap" and meta["enforce_trimap"] == "true"
    assert meta["contract"] == ("image: uint8 [N,H,W,3] RGB, trimap: uint8 [N,H,W] 0/128/255 -> alpha [N,H,W] (x255), "
                                "trimap_adapted uint8 [N,H,W] 0/128/255")


def test_float32_parity_within_1e_4(adamatting_weights, tmp_path):
    out, report = tmp_path / "ada_f32.onnx", tmp_path / "report.json"
    assert main(["export", "--weights", str(adamatting_weights), "-o", str(out), "--alpha-dtype", "float32",
                 "--max-side", "256", "--check", "--json", str(report)]) == 0
    stats = check_report(json.loads(report.read_text()), "float32")
    assert max(s["max_abs"] for s in stats) <= 1e-4


def test_graph_contract(adamatting_export):
    from trtmatte.runtime import OrtSession
    from trtmatte.trimap import from_rough_mask

    onnx_path, _, _ = adamatting_export
    session = OrtSession(onnx_path)
    inputs = session.session.get_inputs()
    assert [(i.name, i.type) for i in inputs] == [(IMAGE, "tensor(uint8)"), (TRIMAP, "tensor(uint8)")]
    assert len(inputs[0].shape) == 4 and inputs[1].shape == inputs[0].shape[:3]  # the trimap shares N, H, W
    assert session.output_names == [ALPHA, TRIMAP_ADAPTED] and session.needs_trimap
    image = np.random.default_rng(0).integers(0, 256, (2, 45, 67, 3), dtype=np.uint8)
    trimap = np.stack([from_rough_mask(im) for im in image])
    raw = session.run_raw(image, trimap)
    assert raw[ALPHA].dtype == np.uint8 and raw[ALPHA].shape == (2, 45, 67)
    assert raw[TRIMAP_ADAPTED].dtype == np.uint8 and set(np.unique(raw[TRIMAP_ADAPTED])) <= {0, 128, 255}
    # known regions imposed in the graph
    assert (raw[ALPHA][trimap == 255] == 255).all() and (raw[ALPHA][trimap == 0] == 0).all()


def test_tensorrt_parses_the_unrolled_graph(adamatting_export):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (tensorrt-rtx-cu12) is needed to parse with TensorRT")
    from trtmatte.engine.parser import parse_onnx

    io = parse_onnx(adamatting_export[0], flavour="tensorrt_rtx").io_summary()
    assert io["inputs"] == [("image", "UINT8", (-1, -1, -1, 3)), ("trimap", "UINT8", (-1, -1, -1))]
    assert io["outputs"] == [("alpha", "UINT8", (-1, -1, -1)), ("trimap_adapted", "UINT8", (-1, -1, -1))]


@pytest.fixture(scope="module")
def tiny_adamatting():
    """A small AdaMattingNet: the export options test in seconds."""
    import torch

    from trtmatte.models.adamatting import AdaMattingNet

    torch.manual_seed(0)
    return AdaMattingNet(stem_width=8, stem_kernel=3, stages=((4, 8, 1), (4, 8, 1), (8, 16, 1), (8, 16, 1)),
                         decoder_widths=(16, 16, 8, 8, 8), propagation_width=4).eval()


def test_no_enforce_trimap_and_debug_outputs(tiny_adamatting, tmp_path):
    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config
    from trtmatte.runtime import OrtSession

    pre = dataclasses.replace(get_config("adamatting_lite").preprocessing, max_side=64)
    image = np.random.default_rng(0).integers(0, 256, (1, 40, 50, 3), dtype=np.uint8)
    trimap = np.random.default_rng(1).choice(np.array([0, 128, 255], np.uint8), (1, 40, 50))
    alphas = {}
    for enforce in (True, False):
        path = tmp_path / f"{enforce}.onnx"
        report = export_onnx(tiny_adamatting, "adamatting_lite", pre, path,
                             ExportOptions(alpha_dtype="float32", enforce_trimap=enforce, debug_outputs=True,
                                           static_shape=(1, 40, 50), simplify=False))
        assert report.metadata["enforce_trimap"] == str(enforce).lower()
        session = OrtSession(path)
        assert session.output_names == ["alpha", "trimap_adapted", "alpha_decoder"]
        alphas[enforce] = session.run(image, trimap)
    known = trimap != 128
    assert not np.allclose(alphas[True][known], alphas[False][known])
    assert np.allclose(alphas[True][~known], alphas[False][~known], atol=1e-6)


def test_fused_blend_is_refused_for_adamatting(tiny_adamatting, tmp_path):
    from trtmatte.errors import TrtmatteError
    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config

    with pytest.raises(TrtmatteError, match="fuses Late Fusion's blend"):
        export_onnx(tiny_adamatting, "adamatting_lite", get_config("adamatting_lite").preprocessing,
                    tmp_path / "x.onnx", ExportOptions(fused_blend=True))
    assert not (tmp_path / "x.onnx").exists()
