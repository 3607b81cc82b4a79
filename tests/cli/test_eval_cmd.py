"""`trtmatte eval` end to end on the CPU: a real onnxruntime session on a graph whose alpha is the
image's red channel / 255 (so the prediction is known exactly), scored against hand-computed SAD
and MSE; the table, the JSON report, and one-line errors (exit 1, no traceback) for mismatched
names and sizes."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trtmatte.evaluation import metrics as M
from trtmatte.cli import main as cli_main
from trtmatte.cli.eval_cmd import Eval
from trtmatte.errors import TrtmatteError

pytest.importorskip("onnx", reason="the test graph is built with onnx.helper")
pytest.importorskip("onnxruntime", reason="the test graph runs in onnxruntime")
pytest.importorskip("cv2", reason="the Grad metric needs OpenCV")
pytest.importorskip("scipy", reason="the Conn metric needs SciPy")

from helpers.eval_data import GT8, PRED8, TRIMAP  # noqa: E402


@pytest.fixture(scope="module")
def red_graph(tmp_path_factory) -> Path:
    """A whole-pipeline-contract graph (uint8 'image' [N, H, W, 3] -> float32 'alpha' [N, H, W])
    computing alpha = red / 255."""
    import onnx
    from onnx import TensorProto, helper

    from trtmatte.contract.names import ALPHA, IMAGE, METADATA_PREFIX

    nodes = [
        helper.make_node("Constant", [], ["channel"], value=helper.make_tensor("c", TensorProto.INT64, [], [0])),
        helper.make_node("Constant", [], ["scale"], value=helper.make_tensor("s", TensorProto.FLOAT, [], [255.0])),
        helper.make_node("Gather", [IMAGE, "channel"], ["red"], axis=3),
        helper.make_node("Cast", ["red"], ["red_f"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["red_f", "scale"], [ALPHA]),
    ]
    graph = helper.make_graph(nodes, "red_channel",
                              [helper.make_tensor_value_info(IMAGE, TensorProto.UINT8, ["N", "H", "W", 3])],
                              [helper.make_tensor_value_info(ALPHA, TensorProto.FLOAT, ["N", "H", "W"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, {f"{METADATA_PREFIX}variant": "red_channel_test"})
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path_factory.mktemp("graph") / "red.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def red_trimap_graph(tmp_path_factory) -> Path:
    """A trimap model by the contract (uint8 'image' and 'trimap' in, float32 'alpha' out, family
    adamatting): alpha = red / 255 where the trimap is unknown, and the trimap's known regions
    imposed as AdaMatting's export does (above 170: 1, below 85: 0). Exact, so each test knows the
    prediction, and it depends on the trimap, so a test sees which trimap the model was fed."""
    import onnx
    from onnx import TensorProto, helper

    from trtmatte.contract.names import ALPHA, FAMILY, IMAGE, INPUTS, METADATA_PREFIX, TRIMAP, VARIANT

    def const(name, dtype, value):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name + "_v", dtype, [], [value]))

    nodes = [
        const("channel", TensorProto.INT64, 0), const("scale", TensorProto.FLOAT, 255.0),
        const("low", TensorProto.FLOAT, 85.0), const("high", TensorProto.FLOAT, 170.0),
        const("zero", TensorProto.FLOAT, 0.0), const("one", TensorProto.FLOAT, 1.0),
        helper.make_node("Gather", [IMAGE, "channel"], ["red"], axis=3),
        helper.make_node("Cast", ["red"], ["red_f"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["red_f", "scale"], ["network"]),
        helper.make_node("Cast", [TRIMAP], ["trimap_f"], to=TensorProto.FLOAT),
        helper.make_node("Greater", ["trimap_f", "high"], ["is_fg"]),
        helper.make_node("Less", ["trimap_f", "low"], ["is_bg"]),
        helper.make_node("Where", ["is_bg", "zero", "network"], ["not_bg"]),
        helper.make_node("Where", ["is_fg", "one", "not_bg"], [ALPHA]),
    ]
    graph = helper.make_graph(nodes, "red_trimap",
                              [helper.make_tensor_value_info(IMAGE, TensorProto.UINT8, ["N", "H", "W", 3]),
                               helper.make_tensor_value_info(TRIMAP, TensorProto.UINT8, ["N", "H", "W"])],
                              [helper.make_tensor_value_info(ALPHA, TensorProto.FLOAT, ["N", "H", "W"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, {METADATA_PREFIX + VARIANT: "red_trimap_test", METADATA_PREFIX + FAMILY: "adamatting",
                                   METADATA_PREFIX + INPUTS: f"{IMAGE},{TRIMAP}"})
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path_factory.mktemp("graph") / "red_trimap.onnx"
    onnx.save(model, path)
    return path


def enforced(red: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """red_trimap_graph's alpha, computed with NumPy."""
    return np.where(trimap > 170, 1.0, np.where(trimap < 85, 0.0, red / 255.0))


def dataset(root: Path, trimaps: bool = False) -> dict[str, Path]:
    dirs = {k: root / k for k in ("images", "alphas") + (("trimaps",) if trimaps else ())}
    for d in dirs.values():
        d.mkdir()
    for name, red in (("a", PRED8), ("b", GT8)):  # b: a perfect prediction
        Image.fromarray(np.stack([red, np.full_like(red, 30), np.full_like(red, 220)], -1)).save(dirs["images"] / f"{name}.png")
        Image.fromarray(GT8).save(dirs["alphas"] / f"{name}.png")
        if trimaps:
            Image.fromarray(TRIMAP).save(dirs["trimaps"] / f"{name}.png")
    return dirs


def run_eval(*argv: str) -> int:
    """The command through its own argparse parser (independent of main's COMMANDS)."""
    parser = argparse.ArgumentParser(prog="trtmatte eval")
    cmd = Eval()
    cmd.add_arguments(parser)
    return cmd.run(parser.parse_args(list(argv)))


@pytest.fixture()
def main_with_eval(monkeypatch):
    """trtmatte's real main(), with `eval` registered whether or not cli/main.py lists it yet."""
    if not any(cls.name == "eval" for cls in cli_main.COMMANDS):
        monkeypatch.setattr(cli_main, "COMMANDS", cli_main.COMMANDS + (Eval,))
    return cli_main.main


def model_flags(graph: Path) -> list[str]:
    return ["--backend", "onnxruntime", "--onnx", str(graph), "--no-progress"]


def test_eval_band_end_to_end(tmp_path, red_graph, capsys):
    dirs = dataset(tmp_path)
    report_path = tmp_path / "eval.json"
    code = run_eval("--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]), "--band", "2",
                    "--json", str(report_path), *model_flags(red_graph))
    assert code == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("backend: onnxruntime ") and "fp32 on cpu" in lines[0]
    assert "0 < gt < 1 dilated by 2 px" in out
    row_a = next(line for line in lines if line.startswith("a "))
    # band 2 (columns 4-11, 128 px): SAD 4 x 0.2 / 1000, MSE 4 x 0.04 / 128; full: + 2 x 1.0 over 256 px
    assert row_a.split()[1:5] == ["16x16", "128", "0.0008", "0.001250"]
    assert row_a.split()[7:9] == ["0.0028", "0.008438"]
    mean = next(line for line in lines if line.startswith("mean"))
    assert mean.split()[1:5] == ["2", "img", "0.0004", "0.000625"]
    assert f"json: {report_path}" in out

    report = json.loads(report_path.read_text())
    assert report["schema"] == "trtmatte.eval/1"
    assert report["backend"]["backend"] == "onnxruntime" and report["backend"]["variant"] == "red_channel_test"
    assert report["backend"]["label"].startswith("onnxruntime ")
    assert report["settings"]["region"] == "band" and report["settings"]["band_px"] == 2
    assert report["settings"]["images"] == str(dirs["images"]) and report["settings"]["trimaps"] is None
    assert report["counts"]["images"] == 2 and report["counts"]["region_pixels"] == 256
    a, b = report["images"]
    assert a["name"] == "a" and a["image"] == str(dirs["images"] / "a.png") and a["alpha"] == str(dirs["alphas"] / "a.png")
    assert a["region"]["sad"] == pytest.approx(0.8 / 1000) and a["region"]["mse"] == pytest.approx(0.16 / 128)
    assert a["full"]["sad"] == pytest.approx(2.8 / 1000) and a["full"]["mse"] == pytest.approx(2.16 / 256)
    pred, gt = PRED8 / 255.0, GT8 / 255.0
    band = M.region_mask(gt, band=2)
    assert a["region"]["grad"] == pytest.approx(M.gradient_error(pred, gt, band))
    assert a["region"]["conn"] == pytest.approx(M.connectivity_error(pred, gt, band))
    assert a["full"]["grad"] == pytest.approx(M.gradient_error(pred, gt))
    assert a["full"]["conn"] == pytest.approx(M.connectivity_error(pred, gt))
    assert b["region"] == b["full"] == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}
    assert report["mean"]["full"]["sad"] == pytest.approx(1.4 / 1000)


def test_eval_trimaps_score_the_unknown_region(tmp_path, red_graph, capsys):
    dirs = dataset(tmp_path, trimaps=True)
    report_path = tmp_path / "eval.json"
    assert run_eval("--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]), "--trimaps",
                    str(dirs["trimaps"]), "--json", str(report_path), *model_flags(red_graph)) == 0
    assert "trimap == 128" in capsys.readouterr().out
    report = json.loads(report_path.read_text())
    a = report["images"][0]
    assert report["settings"]["region"] == "trimap" and report["settings"]["trimaps"] == str(dirs["trimaps"])
    assert a["trimap"] == str(dirs["trimaps"] / "a.png") and a["region_pixels"] == 16
    assert a["region"]["sad"] == pytest.approx(2.0 / 1000) and a["region"]["mse"] == pytest.approx(2.0 / 16)
    mask = M.region_mask(GT8 / 255.0, trimap=TRIMAP)
    assert a["region"]["grad"] == pytest.approx(M.gradient_error(PRED8 / 255.0, GT8 / 255.0, mask))
    with pytest.raises(TrtmatteError, match="--trimaps or --band, not both"):
        run_eval("--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]), "--trimaps", str(dirs["trimaps"]),
                 "--band", "3", *model_flags(red_graph))


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err + captured.out, captured.err
    assert lines[0].startswith("trtmatte: error: ")
    return lines[0]


def test_mismatched_names_exit_1_with_one_line(tmp_path, red_graph, main_with_eval, capsys):
    dirs = dataset(tmp_path)
    (dirs["alphas"] / "b.png").rename(dirs["alphas"] / "c.png")
    code = main_with_eval(["eval", "--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]),
                           *model_flags(red_graph)])
    assert code == 1
    line = one_error_line(capsys)
    assert f"1 image has no alpha in {dirs['alphas']} (b)" in line and f"1 alpha has no image in {dirs['images']} (c)" in line


def test_mismatched_sizes_exit_1_before_loading_the_model(tmp_path, main_with_eval, capsys):
    dirs = dataset(tmp_path)
    Image.fromarray(np.zeros((16, 20), np.uint8)).save(dirs["alphas"] / "b.png")
    # the graph does not exist: the size check fails first, before any model is opened
    code = main_with_eval(["eval", "--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]),
                           *model_flags(tmp_path / "missing.onnx")])
    assert code == 1
    line = one_error_line(capsys)
    assert line == (f"trtmatte: error: alpha {dirs['alphas'] / 'b.png'} is 20x16 but image {dirs['images'] / 'b.png'} "
                    "is 16x16 (sizes are width x height; they must match)")


def test_bad_flags_and_outputs_are_one_line(tmp_path, red_graph, main_with_eval, capsys):
    dirs = dataset(tmp_path)
    base = ["eval", "--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]), *model_flags(red_graph)]
    assert main_with_eval(base + ["--json", str(tmp_path / "no" / "such" / "dir.json")]) == 1
    assert "directory" in one_error_line(capsys)
    assert main_with_eval(base + ["--band", "-3"]) == 1
    assert "--band takes a non-negative number" in one_error_line(capsys)
    assert main_with_eval(["eval", "--images", str(tmp_path / "nope"), "--alphas", str(dirs["alphas"])]) == 1
    assert "images folder" in one_error_line(capsys)
    Image.fromarray(np.stack([GT8] * 3, -1) + np.uint8(1) * np.arange(3, dtype=np.uint8)).save(dirs["alphas"] / "a.png")
    assert main_with_eval(base) == 1  # a colour "alpha": read when scored, still one line
    assert "colour image" in one_error_line(capsys)


def test_help_lists_the_flags(main_with_eval, capsys):
    with pytest.raises(SystemExit) as exc:
        main_with_eval(["eval", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--images", "--alphas", "--trimaps", "--band", "--json", "--no-progress", "--backend", "--onnx"):
        assert flag in out


# ----------------------------------------------------------------------------- trimap models


def test_trimap_model_is_fed_the_dataset_trimaps(tmp_path, red_trimap_graph, capsys):
    dirs = dataset(tmp_path, trimaps=True)
    report_path = tmp_path / "eval.json"
    assert run_eval("--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]), "--trimaps",
                    str(dirs["trimaps"]), "--json", str(report_path), *model_flags(red_trimap_graph)) == 0
    report = json.loads(report_path.read_text())
    assert report["backend"]["variant"] == "red_trimap_test" and report["settings"]["model_trimaps"] == "dataset"
    gt, mask = GT8 / 255.0, M.region_mask(GT8 / 255.0, trimap=TRIMAP)
    for row, red in zip(report["images"], (PRED8, GT8)):
        pred = enforced(red, TRIMAP)  # what the model returns when it is given TRIMAP
        assert row["region"]["sad"] == pytest.approx(M.sad(pred, gt, mask))
        assert row["full"]["sad"] == pytest.approx(M.sad(pred, gt))
        assert row["full"]["grad"] == pytest.approx(M.gradient_error(pred, gt))
    # the trimap made a difference: fed no trimap, the full-image SAD of 'a' would be 2.8 / 1000
    assert report["images"][0]["full"]["sad"] > 10 / 1000


def test_trimap_model_without_trimaps_is_one_line(tmp_path, red_trimap_graph, main_with_eval, capsys):
    dirs = dataset(tmp_path)
    code = main_with_eval(["eval", "--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]),
                           *model_flags(red_trimap_graph)])
    assert code == 1
    line = one_error_line(capsys)
    assert line.startswith("trtmatte: error: model red_trimap_test needs trimaps: give --trimaps DIR")
    assert line.endswith("or --trimap auto (derived by Late Fusion)")


@pytest.fixture(scope="module")
def lf_debug(tmp_path_factory) -> Path:
    """A tiny stand-in for Late Fusion (tests/helpers/tiny_model.py) exported with its F, B outputs."""
    pytest.importorskip("torch")
    from helpers.tiny_model import TinyMatting

    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config

    path = tmp_path_factory.mktemp("lf_debug") / "lf_debug.onnx"
    export_onnx(TinyMatting(), "late_fusion", get_config("late_fusion").preprocessing, path,
                ExportOptions(debug_outputs=True))
    return path


def test_trimap_auto_feeds_late_fusion_trimaps(tmp_path, red_trimap_graph, lf_debug, capsys):
    from trtmatte.media.image import read_rgb
    from trtmatte.runtime.matter import Matter
    from trtmatte.trimap import AutoTrimapOptions

    dirs = dataset(tmp_path, trimaps=True)
    report_path = tmp_path / "eval.json"
    # dataset trimaps and --trimap auto: the model gets Late Fusion's, the dataset's define the region
    assert run_eval("--images", str(dirs["images"]), "--alphas", str(dirs["alphas"]), "--trimaps",
                    str(dirs["trimaps"]), "--trimap", "auto", "--trimap-model", str(lf_debug), "--trimap-confidence", "0.51",
                    "--trimap-dilate", "0",
                    "--json", str(report_path), *model_flags(red_trimap_graph)) == 0
    report = json.loads(report_path.read_text())
    assert report["settings"]["region"] == "trimap" and report["settings"]["model_trimaps"] is None
    assert "trimap: auto from" in report["backend"]["variant"]
    with Matter("onnxruntime", onnx=red_trimap_graph, auto_trimap=AutoTrimapOptions(0.51, 0),
                trimap_model=lf_debug) as matter:
        gt, mask = GT8 / 255.0, M.region_mask(GT8 / 255.0, trimap=TRIMAP)
        for row in report["images"]:
            image = read_rgb(row["image"])
            auto = matter.session.trimaps(image[None])[0]
            assert {0, 255} & set(np.unique(auto)) and 128 in auto  # known pixels: the trimap matters
            pred = enforced(image[..., 0], auto)
            assert row["region"]["sad"] == pytest.approx(M.sad(pred, gt, mask))
            assert row["full"]["sad"] == pytest.approx(M.sad(pred, gt))
    # no dataset trimaps: the band region, still fed Late Fusion's trimaps
    (tmp_path / "plain").mkdir()
    plain = dataset(tmp_path / "plain")
    assert run_eval("--images", str(plain["images"]), "--alphas", str(plain["alphas"]), "--band", "2", "--trimap",
                    "auto", "--trimap-model", str(lf_debug), *model_flags(red_trimap_graph)) == 0
    assert "0 < gt < 1 dilated by 2 px" in capsys.readouterr().out


def test_trimap_flags_are_one_line(tmp_path, red_graph, red_trimap_graph, lf_debug, main_with_eval, capsys):
    dirs = dataset(tmp_path)
    base = ["eval", "--images", str(dirs["images"]), "--alphas", str(dirs["alphas"])]
    assert main_with_eval(base + ["--trimap", str(tmp_path), *model_flags(red_trimap_graph)]) == 1
    assert "eval's --trimap takes only 'auto'" in one_error_line(capsys)
    assert main_with_eval(base + ["--trimap-model", str(lf_debug), *model_flags(red_trimap_graph)]) == 1
    assert "--trimap-model is the Late Fusion model of --trimap auto: add --trimap auto" in one_error_line(capsys)
    assert main_with_eval(base + ["--trimap", "auto", "--trimap-model", str(lf_debug), *model_flags(red_graph)]) == 1
    assert "red_channel_test is trimap-free: drop --trimap" in one_error_line(capsys)
    assert main_with_eval(base + ["--trimap", "auto", "--trimap-confidence", "2", *model_flags(red_trimap_graph)]) == 1
    assert "confidence" in one_error_line(capsys)
