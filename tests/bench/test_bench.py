"""`trtmatte bench`: statistics, labels, the JSON schema, and the CLI end to end on onnxruntime."""
from __future__ import annotations

import json

import numpy as np
import pytest

from trtmatte.bench import SCHEMA_ID, BenchConfig, run_bench, validate
from trtmatte.bench.stats import latency_stats
from trtmatte.cli.main import main
from trtmatte.errors import TrtmatteError
from trtmatte.runtime.session import MattingSession, SessionInfo, Timing


def test_latency_stats_percentiles():
    s = latency_stats([i / 100 for i in range(1, 101)])  # 0.01 .. 1.00
    assert s["mean"] == pytest.approx(0.505) and s["max"] == 1.0 and s["min"] == 0.01
    assert s["p50"] == pytest.approx(0.505) and s["p90"] == pytest.approx(0.901) and s["p99"] == pytest.approx(0.9901)
    assert list(s) == ["mean", "std", "min", "p50", "p90", "p95", "p99", "max"]


class FakeGpuSession(MattingSession):
    """Reports a fixed H2D/compute/D2H split, like a GPU session's CUDA events would."""

    info = SessionInfo("torch", "fp16 (autocast)", "Fake GPU [PyTorch-CUDA]", "late_fusion", "2.11")

    def run_impl(self, images, trimap):
        return np.zeros(images.shape[:3], np.float32)

    def run_timed(self, images, trimap=None):
        return self.run(images), Timing(0.008, 0.001, 0.006, 0.001)


def test_result_labels_split_and_paper_ratio():
    result = run_bench(FakeGpuSession(), BenchConfig(runs=4, warmup=1, pipeline_images=3),
                       weights_note="randomly initialised late_fusion (no --weights)")
    assert result["schema"] == SCHEMA_ID
    assert result["label"] == "torch 2.11 fp16 (autocast) on Fake GPU [PyTorch-CUDA], 800x800, batch 1"
    assert result["session"]["backend"] == "torch"  # never tensorrt unless TensorRT produced it
    assert "tensorrt" not in result["label"].lower()
    assert result["split_s"]["compute"]["mean"] == pytest.approx(0.006)
    assert result["paper"] == {"seconds_per_image": 0.39, "size": "800x800", "speedup": pytest.approx(0.39 / 0.008),
                               "comparable": True}
    assert result["pipelined"]["compute_bound_images_per_s"] == pytest.approx(1 / 0.006)
    assert any("randomly initialised" in n for n in result["notes"])
    assert set(result["versions"]) >= {"trtmatte", "tensorrt", "tensorrt_rtx", "onnxruntime", "torch", "cuda-python"}


def test_duration_mode_and_size_note():
    result = run_bench(FakeGpuSession(), BenchConfig(height=64, width=96, batch=2, runs=1, duration_s=0.05, warmup=0))
    assert result["runs"] >= 1 and result["duration_s"] >= 0.05
    assert result["input"] == {"height": 64, "width": 96, "batch": 2}
    assert result["paper"]["comparable"] is False and "not the paper's 800x800" in " ".join(result["notes"])
    assert result["per_image_s"] == pytest.approx(0.004)


@pytest.mark.parametrize("breakage,match", [
    (lambda r: r.pop("latency_s"), "lacks 'latency_s'"),
    (lambda r: r.update(schema="other/1"), "schema is 'other/1'"),
    (lambda r: r["latency_s"].pop("p99"), "latency_s keys"),
    (lambda r: r.update(split_s={"compute": {}}), "split_s"),
    (lambda r: r["samples_s"].pop(), "number of samples_s"),
    (lambda r: r["versions"].pop("tensorrt"), "versions lack 'tensorrt'"),
    (lambda r: r.update(runs="3"), "'runs' has type str"),
])
def test_schema_rejects_broken_results(breakage, match):
    result = run_bench(FakeGpuSession(), BenchConfig(runs=3, warmup=0))
    validate(json.loads(json.dumps(result)))  # survives a JSON round trip
    breakage(result)
    with pytest.raises(TrtmatteError, match=match):
        validate(result)


def test_bench_cli_onnxruntime_end_to_end(tiny_onnx, tmp_path, capsys):
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    args = ["bench", "--backend", "onnxruntime", "--onnx", str(tiny_onnx), "--size", "64x96", "--runs", "4",
            "--warmup", "1", "--pipeline", "3", "--json", str(out_json)]
    have_mpl = True
    try:
        import matplotlib  # noqa: F401
        args += ["--plot", str(out_png)]
    except ImportError:
        have_mpl = False
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "onnxruntime 1.24" in printed and "vs the paper's 0.39 s per 800x800 image" in printed
    result = validate(json.loads(out_json.read_text()))
    assert result["session"]["backend"] == "onnxruntime" and result["runs"] == 4
    assert result["input"] == {"height": 64, "width": 96, "batch": 1}
    assert result["split_s"] is None and result["pipelined"]["images"] == 3
    assert result["transfers"] == {"skipped": "not requested (--transfers)"}
    assert result["weights"] is None
    if have_mpl:
        assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out_png.stat().st_size > 10_000


def test_bench_cli_torch_random_weights_are_stated(tmp_path, capsys):
    out_json = tmp_path / "t.json"
    assert main(["bench", "--backend", "torch", "--variant", "late_fusion_lite", "--size", "64x64", "--runs", "2",
                 "--warmup", "0", "--device", "cpu", "--json", str(out_json)]) == 0
    result = json.loads(out_json.read_text())
    assert result["weights"].startswith("randomly initialised late_fusion_lite")
    assert "randomly initialised" in capsys.readouterr().out


@pytest.mark.parametrize("argv,match", [
    (["--size", "800"], "--size must look like HxW"),
    (["--runs", "0"], "--runs must be at least 1"),
    (["--backend", "onnxruntime"], "--backend onnxruntime needs --onnx"),
    (["--backend", "torch", "--device", "cuda"] if not __import__("torch").cuda.is_available() else ["--runs", "-1"],
     "cannot run here: torch: --device cuda but PyTorch sees no CUDA GPU|--runs must be at least 1"),
    (["--backend", "onnxruntime", "--onnx", "nope.onnx"], "ONNX file nope.onnx not found"),
])
def test_bench_bad_input_one_line(argv, match, capsys):
    try:
        code = main(["bench", *argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code in (1, 2)
    import re
    assert re.search(match, err), err


class TrimapSession(MattingSession):
    """A trimap model's session (``needs_trimap``): alpha is the trimap / 255; it keeps every trimap it is fed."""

    info = SessionInfo("onnxruntime", "fp32", "cpu", "adamatting_lite", "1.24")
    needs_trimap = True

    def __init__(self):
        self.trimaps = []

    def run_impl(self, images, trimap):  # MattingSession.run checked them
        self.trimaps.append(trimap)
        return trimap.astype(np.float32) / 255.0


def test_trimap_models_get_a_plausible_trimap_per_frame():
    session = TrimapSession()
    result = run_bench(session, BenchConfig(height=64, width=96, batch=2, runs=3, warmup=1, pipeline_images=2))
    assert result["runs"] == 3 and result["pipelined"]["images"] == 4
    assert len(session.trimaps) >= 1 + 3 + 2  # warm-up, timed runs, pipelined (and its warm-up)
    for trimap in session.trimaps:
        assert trimap.shape == (2, 64, 96) and trimap.dtype == np.uint8
        assert set(np.unique(trimap)) == {0, 128, 255}  # all three classes, nothing else
        # an object in the middle on a background, with an unknown band between them
        assert trimap[0, 32, 48] == 255 and trimap[0, 0, 0] == trimap[0, -1, -1] == 0
        assert 0.05 < (trimap == 128).mean() < 0.5
    assert any("synthetic ellipse trimap" in note for note in result["notes"])


@pytest.fixture(scope="module")
def trimap_graph(tmp_path_factory):
    """The smallest graph with the trimap models' contract: uint8 'image' and 'trimap' in, float32
    'alpha' = trimap / 255 out (family adamatting)."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    from trtmatte.contract.names import ALPHA, FAMILY, IMAGE, METADATA_PREFIX, TRIMAP, VARIANT

    nodes = [helper.make_node("Constant", [], ["scale"], value=helper.make_tensor("s", TensorProto.FLOAT, [], [255.0])),
             helper.make_node("Cast", [TRIMAP], ["t"], to=TensorProto.FLOAT),
             helper.make_node("Div", ["t", "scale"], ["a"]),
             # alpha must depend on the image too, or onnxruntime would not need it
             helper.make_node("ReduceMax", [IMAGE], ["m"], axes=[3], keepdims=0),
             helper.make_node("Cast", ["m"], ["mf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["mf", "scale"], ["big"]),
             helper.make_node("Min", ["a", "big"], [ALPHA])]
    graph = helper.make_graph(nodes, "trimap_alpha",
                              [helper.make_tensor_value_info(IMAGE, TensorProto.UINT8, ["N", "H", "W", 3]),
                               helper.make_tensor_value_info(TRIMAP, TensorProto.UINT8, ["N", "H", "W"])],
                              [helper.make_tensor_value_info(ALPHA, TensorProto.FLOAT, ["N", "H", "W"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    helper.set_model_props(model, {METADATA_PREFIX + VARIANT: "trimap_test", METADATA_PREFIX + FAMILY: "adamatting"})
    path = tmp_path_factory.mktemp("trimap_graph") / "trimap.onnx"
    onnx.save(model, path)
    return path


def test_bench_cli_runs_a_trimap_graph(trimap_graph, tmp_path, capsys):
    out_json = tmp_path / "bench.json"
    assert main(["bench", "--backend", "onnxruntime", "--onnx", str(trimap_graph), "--size", "48x64", "--batch", "2",
                 "--runs", "2", "--warmup", "1", "--pipeline", "2", "--json", str(out_json)]) == 0
    assert "synthetic ellipse trimap" in capsys.readouterr().out
    result = validate(json.loads(out_json.read_text()))
    assert result["session"]["variant"] == "trimap_test" and result["runs"] == 2
    assert result["input"] == {"height": 48, "width": 64, "batch": 2} and result["pipelined"]["images"] == 4
