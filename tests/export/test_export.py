"""Whole-pipeline ONNX export: the graph contract, options and bad input, on a tiny stand-in
network (seconds per export). Parity of the real networks is in tests/export/test_parity.py."""
from __future__ import annotations

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx", reason="onnx is needed for export tests (pip install -e '.[test]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed for export tests")

from trtmatte.errors import TrtmatteError  # noqa: E402
from trtmatte.export import ExportOptions, export_onnx  # noqa: E402
from trtmatte.models import get_config  # noqa: E402
from trtmatte.models.matting_pipeline import MattingPipeline  # noqa: E402

from helpers.tiny_model import TinyMatting  # noqa: E402

PRE = get_config("late_fusion").preprocessing


def reference_alpha(images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return MattingPipeline(TinyMatting().eval(), PRE)(torch.from_numpy(images)).alpha.numpy()


def images(n=1, h=45, w=70, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_uint8(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny") / "tiny.onnx"
    report = export_onnx(TinyMatting(), "late_fusion", PRE, path, ExportOptions(), "ab" * 32, "test weights")
    return path, report


def test_graph_contract(tiny_uint8):
    path, report = tiny_uint8
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    opset = {o.domain: o.version for o in model.opset_import}[""]
    assert opset >= 17
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "image" and inp.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_param for d in inp.type.tensor_type.shape.dim[:3]] == ["batch", "height", "width"]
    assert inp.type.tensor_type.shape.dim[3].dim_value == 3
    assert out.name == "alpha" and out.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert len(out.type.tensor_type.shape.dim) == 3
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["trtmatte.variant"] == "late_fusion" and meta["trtmatte.weights_sha256"] == "ab" * 32
    assert meta["trtmatte.alpha_dtype"] == "uint8" and '"max_side": 800' in meta["trtmatte.preprocessing"]
    assert report.nodes_final <= report.nodes_exported and report.size_bytes == path.stat().st_size


@pytest.mark.parametrize("n,h,w", [(1, 45, 70), (3, 33, 200), (1, 900, 130)])  # 900 > cap: downscale path
def test_uint8_output_matches_pytorch(tiny_uint8, n, h, w):
    path, _ = tiny_uint8
    x = images(n, h, w)
    (alpha,) = ort.InferenceSession(str(path)).run(None, {"image": x})
    assert alpha.dtype == np.uint8 and alpha.shape == (n, h, w)
    ref = np.rint(reference_alpha(x) * 255)
    assert np.abs(alpha.astype(int) - ref).max() <= 1
    assert alpha.std() > 5  # a real spread, so the comparison means something


@pytest.mark.parametrize("dtype,np_dtype,tol", [("float32", np.float32, 1e-5), ("float16", np.float16, 1e-3)])
def test_float_outputs(tmp_path, dtype, np_dtype, tol):
    path = tmp_path / "t.onnx"
    export_onnx(TinyMatting(), "late_fusion", PRE, path, ExportOptions(alpha_dtype=dtype))
    x = images(2, 50, 64)
    (alpha,) = ort.InferenceSession(str(path)).run(None, {"image": x})
    assert alpha.dtype == np_dtype
    assert np.abs(alpha.astype(np.float32) - reference_alpha(x)).max() <= tol


def test_debug_outputs(tmp_path):
    path = tmp_path / "t.onnx"
    export_onnx(TinyMatting(), "late_fusion", PRE, path, ExportOptions(alpha_dtype="float32", debug_outputs=True))
    sess = ort.InferenceSession(str(path))
    assert [o.name for o in sess.get_outputs()] == ["alpha", "fg", "bg", "beta"]
    alpha, fg, bg, beta = sess.run(None, {"image": images(1, 45, 70)})
    assert alpha.shape == (1, 45, 70) and fg.shape == bg.shape == beta.shape == (1, 64, 96)  # working size


def test_static_shape(tmp_path):
    path = tmp_path / "t.onnx"
    export_onnx(TinyMatting(), "late_fusion", PRE, path, ExportOptions(static_shape=(2, 40, 60)))
    dims = [d.dim_value for d in onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 40, 60, 3]
    sess = ort.InferenceSession(str(path))
    x = images(2, 40, 60)
    assert np.abs(sess.run(None, {"image": x})[0].astype(int) - np.rint(reference_alpha(x) * 255)).max() <= 1
    with pytest.raises(Exception):
        sess.run(None, {"image": images(1, 40, 60)})


def test_external_data_when_too_big(tmp_path):
    path = tmp_path / "t.onnx"
    report = export_onnx(TinyMatting(), "late_fusion", PRE, path, ExportOptions(external_data_threshold=1))
    assert report.external_data == "t.onnx.data" and (tmp_path / "t.onnx.data").is_file()
    x = images(1, 45, 70)
    assert np.abs(ort.InferenceSession(str(path)).run(None, {"image": x})[0].astype(int)
                  - np.rint(reference_alpha(x) * 255)).max() <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.onnx", "t.onnx.data"]


def test_bad_options(tmp_path):
    with pytest.raises(TrtmatteError, match="opset 16 is too old"):
        export_onnx(TinyMatting(), "late_fusion", PRE, tmp_path / "t.onnx", ExportOptions(opset=16))
    with pytest.raises(TrtmatteError, match="--shape must be positive"):
        export_onnx(TinyMatting(), "late_fusion", PRE, tmp_path / "t.onnx", ExportOptions(static_shape=(1, 0, 5)))
    with pytest.raises(TrtmatteError, match="does not exist"):
        export_onnx(TinyMatting(), "late_fusion", PRE, tmp_path / "nodir" / "t.onnx")
    assert list(tmp_path.iterdir()) == []


def test_failed_export_leaves_nothing(tmp_path, monkeypatch):
    import trtmatte.contract.graphio as mod

    def broken_checker(*a, **k):
        raise TrtmatteError("exported graph fails onnx.checker: simulated")

    monkeypatch.setattr(mod, "check_graph", broken_checker)
    with pytest.raises(TrtmatteError, match="simulated"):
        export_onnx(TinyMatting(), "late_fusion", PRE, tmp_path / "t.onnx")
    assert list(tmp_path.iterdir()) == []


def test_tensorrt_parses_the_graph(tiny_uint8):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (tensorrt-rtx-cu12) is needed to parse with TensorRT")
    from trtmatte.engine.parser import parse_onnx

    parsed = parse_onnx(tiny_uint8[0], flavour="tensorrt_rtx")
    io = parsed.io_summary()
    assert io["inputs"] == [("image", "UINT8", (-1, -1, -1, 3))]
    assert io["outputs"] == [("alpha", "UINT8", (-1, -1, -1))]


def test_parser_error_names_the_node(tmp_path):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (tensorrt-rtx-cu12) is needed to parse with TensorRT")
    from onnx import TensorProto, helper

    from trtmatte.engine.parser import parse_onnx

    # docs/design.md: TensorRT only casts uint8 tensors; transposing one is rejected.
    node = helper.make_node("Transpose", ["image"], ["t"], name="transpose_uint8", perm=[0, 3, 1, 2])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 4, 4, 3])],
                              [helper.make_tensor_value_info("t", TensorProto.UINT8, [1, 3, 4, 4])])
    path = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    with pytest.raises(TrtmatteError, match="TensorRT cannot parse .*bad.onnx: .*transpose_uint8.*Transpose"):
        parse_onnx(path, flavour="tensorrt_rtx")
