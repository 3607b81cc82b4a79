"""FP16 and INT8 graphs of AdaMatting, found by the same structural anatomy as Late Fusion's: its
heads are a Softmax (adapted trimap) and Sigmoids (the A-decoder's alpha and each propagation
step's), its LSTM gates are not heads, the propagation unit's RGB-reading convs are image convs.
Calibration feeds trimaps with the images; TensorRT-RTX builds both graphs with the layer report.
Uses the shared ``adamatting_export`` graph (tests/conftest.py)."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")

from trtmatte.contract.anatomy import analyse, name_nodes  # noqa: E402
from trtmatte.quantize import convert_fp16, quantize_int8  # noqa: E402
from trtmatte.runtime import OrtSession  # noqa: E402
from trtmatte.trimap import from_rough_mask  # noqa: E402


@pytest.fixture(scope="module")
def graph(adamatting_export):
    return adamatting_export[0]


@pytest.fixture(scope="module")
def anatomy(graph):
    model = onnx.load(str(graph))
    name_nodes(model.graph)
    return model, analyse(model)


@pytest.fixture(scope="module")
def photos():
    from trtmatte.data.photos import sample_photos

    images = [p[:96, :128] for p in sample_photos(max_side=256)]
    return images, [from_rough_mask(p) for p in images]


@pytest.fixture(scope="module")
def fp16(graph):
    pytest.importorskip("onnxconverter_common", reason="onnxconverter-common is needed for FP16 conversion")
    return graph.parent / "ada_fp16.onnx", convert_fp16(graph, graph.parent / "ada_fp16.onnx")


@pytest.fixture(scope="module")
def int8(graph, photos):
    images, trimaps = photos  # calibrated on three photos with their rough-outline trimaps
    report = quantize_int8(graph, graph.parent / "ada_int8.onnx", images[:3], calibration_trimaps=trimaps[:3])
    return graph.parent / "ada_int8.onnx", report


def alpha_delta(path, graph, photos):
    images, trimaps = photos
    ref, cand = OrtSession(graph), OrtSession(path)
    return np.concatenate([np.abs(cand.run(im, t) - ref.run(im, t)).ravel() for im, t in zip(images[3:], trimaps[3:])])


def test_anatomy_finds_the_heads_and_the_propagation_unit(anatomy):
    model, a = anatomy
    ops = {n.name: n.op_type for n in model.graph.node}
    assert sorted(ops[h] for h in a.heads) == ["Sigmoid"] * 4 + ["Softmax"]  # trimap; alpha; 3 propagation steps
    assert len(a.logit_convs) == 5 and len(a.sigmoids) == 4
    assert len(a.image_convs) == 3  # the propagation unit's input conv, once per unrolled step
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    assert set(a.convs) == set(convs) and a.stem == convs[0]  # every Conv is in the body
    gate_sigmoids = [n for n in model.graph.node if n.op_type == "Sigmoid" and n.name not in a.heads]
    assert len(gate_sigmoids) >= 3 * 3 - 2  # the LSTM gates (the first step has no forget gate) are body
    assert all(n.name in a.body for n in gate_sigmoids)
    assert not set(a.heads) & a.body  # the heads stay float32: pipeline


def test_fp16_graph_runs_with_trimaps(fp16, graph, photos, anatomy):
    path, report = fp16
    assert report.fp16_convs == len(anatomy[1].convs) and report.weights_out_of_range == 0
    delta = alpha_delta(path, graph, photos)
    assert delta.max() <= 0.05 and delta.mean() <= 2e-3, (delta.max(), delta.mean())


def test_int8_calibrated_with_trimaps(int8, graph, photos, anatomy):
    path, report = int8
    a = anatomy[1]
    assert report.calibration_images == 3 and report.image_shape == (96, 128, 3)
    assert set(report.excluded) == {a.stem, *a.image_convs, *a.logit_convs}
    assert report.quantized_convs == len(a.convs) - len(report.excluded)
    q = onnx.load(str(path)).graph
    producer = {out: n.op_type for n in q.node for out in n.output}
    quantized = [n for n in q.node if n.op_type == "Conv" and n.name not in set(report.excluded)]
    assert len(quantized) == report.quantized_convs
    assert all(producer.get(n.input[0]) == producer.get(n.input[1]) == "DequantizeLinear" for n in quantized)
    delta = alpha_delta(path, graph, photos)
    assert np.isfinite(delta).all() and delta.mean() <= 0.1, delta.mean()  # untrained weights: INT8 is rough


def test_int8_without_trimaps_uses_rough_outlines(graph, photos, tmp_path):
    images, _ = photos
    report = quantize_int8(graph, tmp_path / "q.onnx", images[:1])
    assert report.calibration_images == 1 and (tmp_path / "q.onnx").is_file()


def _build(path):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (tensorrt-rtx-cu12) builds engines without a GPU")
    from trtmatte.engine.builder import BuildOptions, build_engine

    result = build_engine(path, path.with_suffix(".plan"),
                          BuildOptions(min_hw=(64, 64), opt_hw=(96, 128), max_hw=(256, 256), flavour="tensorrt_rtx",
                                       compute_capabilities=["SM86"]))
    return result, {name: layer.precision for layer in result.report.compute_layers() for name in layer.onnx_layers}


@pytest.mark.parametrize("which,precision", [("fp32", "Float"), ("fp16", "Half"), ("int8", "Int8")])
def test_tensorrt_rtx_builds_every_precision(which, precision, graph, fp16, int8, anatomy):
    path = {"fp32": graph, "fp16": fp16[0], "int8": int8[0]}[which]
    result, layers = _build(path)
    meta, report = result.meta, result.report
    assert meta.precision == which
    assert meta.profile["trimap"] == {"min": [1, 64, 64], "opt": [1, 96, 128], "max": [1, 256, 256]}
    assert meta.profile["image"]["max"] == [1, 256, 256, 3]
    assert [(t.name, t.dtype) for t in report.io] == [("image", "UInt8"), ("trimap", "UInt8"), ("alpha", "UInt8"),
                                                      ("trimap_adapted", "UInt8")]
    a = anatomy[1]
    if which == "int8":
        quantized = [c for c in a.convs if c not in set(int8[1].excluded)]
        assert all(layers.get(c) == "Int8" for c in quantized), [(c, layers.get(c)) for c in quantized][:5]
    else:
        body = [c for c in a.convs if c not in a.logit_convs]
        assert all(layers.get(c) == precision for c in body), [(c, layers.get(c)) for c in body][:5]
