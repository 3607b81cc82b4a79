"""Trimaps for free as one graph: Late Fusion's F and B -> trimap -> AdaMatting, exported with the
image as its only input. The graph runs like the PyTorch pipeline, its derived trimap is the NumPy
rule's, TensorRT parses it, and `trtmatte export --trimap-from` makes one a trimap-free model."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos")

from trtmatte.contract.names import ALPHA, IMAGE, TRIMAP_ADAPTED, TRIMAP_AUTO  # noqa: E402
from trtmatte.models import get_config  # noqa: E402
from trtmatte.runtime import OrtSession  # noqa: E402
from trtmatte.trimap import AutoTrimapOptions, auto_trimap, resize_probability  # noqa: E402

OPTIONS = AutoTrimapOptions(confidence=0.8, dilation=2)
SHAPE = (1, 72, 96)


class BrightIsForeground(torch.nn.Module):
    """Stands in for Late Fusion with decoders that agree: F = sigmoid(brightness), B = 1 - F, so
    a photo has confident foreground, confident background and a band between."""

    def __init__(self):
        super().__init__()
        self.logit = torch.nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.logit.weight.fill_(1 / 24)
            self.logit.bias.zero_()

    def forward(self, x):
        from trtmatte.models.late_fusion import LateFusionOutput

        logit = self.logit(x)
        fg, bg = torch.sigmoid(logit), torch.sigmoid(-logit)
        return LateFusionOutput(fg, fg, bg, torch.ones_like(fg))


@pytest.fixture(scope="module")
def pipeline():
    from trtmatte.models.adamatting import AdaMattingNet
    from trtmatte.models.auto_trimap_pipeline import AutoTrimapPipeline

    torch.manual_seed(0)
    ada = AdaMattingNet(stem_width=8, stem_kernel=3, stages=((4, 8, 1), (4, 8, 1), (8, 16, 1), (8, 16, 1)),
                        decoder_widths=(16, 16, 8, 8, 8), propagation_width=4).eval()
    lf_pre = dataclasses.replace(get_config("late_fusion").preprocessing, max_side=64)
    ada_pre = dataclasses.replace(get_config("adamatting_lite").preprocessing, max_side=64)
    return AutoTrimapPipeline(BrightIsForeground().eval(), lf_pre, ada, ada_pre, OPTIONS).eval()


@pytest.fixture(scope="module")
def exported(pipeline, tmp_path_factory):
    from trtmatte.export import ExportOptions, export_onnx

    path = tmp_path_factory.mktemp("auto_trimap") / "lf_ada.onnx"
    report = export_onnx(pipeline, "adamatting_lite", pipeline.pre, path,
                         ExportOptions(alpha_dtype="float32", static_shape=SHAPE, simplify=False))
    return path, report


def test_one_graph_takes_the_image_only(exported, photo):
    from PIL import Image

    path, report = exported
    session = OrtSession(path)
    assert session.input_names == [IMAGE] and not session.needs_trimap
    assert session.output_names == [ALPHA, TRIMAP_ADAPTED, TRIMAP_AUTO]
    assert report.metadata["inputs"] == "image" and "trimap_auto uint8" in report.metadata["contract"]
    image = np.asarray(Image.fromarray(photo).resize(SHAPE[:0:-1]))[None]
    raw = session.run_raw(image)
    assert raw[TRIMAP_AUTO].dtype == np.uint8 and set(np.unique(raw[TRIMAP_AUTO])) <= {0, 128, 255}


def test_graph_runs_like_pytorch_and_derives_the_numpy_trimap(exported, pipeline, photo):
    from PIL import Image

    path, _ = exported
    image = np.array(Image.fromarray(photo).resize(SHAPE[:0:-1]))[None]
    raw = OrtSession(path).run_raw(image)
    with torch.no_grad():
        out = pipeline(torch.from_numpy(image))
        lf = pipeline.source(torch.from_numpy(image))
    assert np.abs(raw[ALPHA] - out.alpha.numpy()).max() <= 1e-4
    derived = out.outputs[TRIMAP_AUTO][0].numpy()
    assert np.array_equal(raw[TRIMAP_AUTO][0], derived.astype(np.uint8))
    h, w = SHAPE[1:]
    by_numpy = auto_trimap(resize_probability(lf.debug["fg"][0].numpy(), h, w),
                           resize_probability(lf.debug["bg"][0].numpy(), h, w), OPTIONS)
    assert np.mean(by_numpy == derived) >= 0.999  # the same rule; a pixel at a threshold may round apart
    assert set(np.unique(by_numpy)) == {0, 128, 255}


def test_tensorrt_parses_the_combined_graph(exported):
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (tensorrt-rtx-cu12) is needed to parse with TensorRT")
    from trtmatte.engine.parser import parse_onnx

    io = parse_onnx(exported[0], flavour="tensorrt_rtx").io_summary()
    assert [name for name, *_ in io["inputs"]] == ["image"]
    assert [name for name, *_ in io["outputs"]] == ["alpha", "trimap_adapted", "trimap_auto"]


def test_export_trimap_from_cli_makes_a_trimap_free_model(adamatting_weights, tmp_path, photo):
    from PIL import Image

    from trtmatte.checkpoints.bundled import bundled_files
    from trtmatte.cli.main import main

    _, lf = bundled_files()
    if lf is None:
        pytest.skip("the bundled Late Fusion demo checkpoint is not in this checkout")
    out, report = tmp_path / "lf_ada.onnx", tmp_path / "report.json"
    code = main(["export", "--weights", str(adamatting_weights), "--trimap-from", str(lf), "-o", str(out),
                 "--shape", "1x96x128", "--max-side", "128", "--trimap-dilate", "3", "--check", "--json", str(report)])
    data = json.loads(report.read_text())
    assert code == 0, data.get("parity")
    source = json.loads(data["export"]["metadata"]["trimap_source"])
    assert source["variant"] == "late_fusion_lite" and source["dilation"] == 3 and source["confidence"] == 0.95
    assert all(s["ok"] for s in data["parity"])
    Image.fromarray(photo).save(tmp_path / "photo.png")
    assert main(["matte", str(tmp_path / "photo.png"), "-o", str(tmp_path / "alpha.png"), "--onnx", str(out),
                 "--no-progress"]) == 1  # the static 96x128 graph refuses a 512x512 photo ...
    Image.fromarray(photo).resize((128, 96)).save(tmp_path / "small.png")
    assert main(["matte", str(tmp_path / "small.png"), "-o", str(tmp_path / "alpha.png"), "--onnx", str(out),
                 "--no-progress"]) == 0  # ... and mattes one of its size with no trimap given
    assert Image.open(tmp_path / "alpha.png").size == (128, 96)


def test_trimap_from_refuses_the_wrong_models(adamatting_weights, tmp_path, capsys):
    from trtmatte.checkpoints.bundled import bundled_files
    from trtmatte.cli.main import main

    _, lf = bundled_files()
    if lf is None:
        pytest.skip("the bundled Late Fusion demo checkpoint is not in this checkout")
    assert main(["export", "--weights", str(lf), "--trimap-from", str(lf), "-o", str(tmp_path / "x.onnx")]) == 1
    assert "is trimap-free: drop --trimap-from" in capsys.readouterr().err
    assert main(["export", "--weights", str(adamatting_weights), "--trimap-from", str(adamatting_weights),
                 "-o", str(tmp_path / "x.onnx")]) == 1
    assert "a trimap model: give a Late Fusion checkpoint" in capsys.readouterr().err
