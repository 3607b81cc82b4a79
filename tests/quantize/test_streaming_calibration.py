"""INT8 calibration as streaming statistics (trtmatte/quantize/calibration_stats.py) and
`--quantizer modelopt` (trtmatte/quantize/modelopt_ptq.py), on TinyLateFusion (tests/helpers:
a body conv and three logit convs, exported in ~10 s) with a few random images at 64-96 px.
"""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is needed (pip install -e '.[test]')")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed")
pytest.importorskip("onnxscript", reason="onnxscript is needed to export the tiny graph")

from onnx import numpy_helper  # noqa: E402

from trtmatte.contract.anatomy import analyse, name_nodes  # noqa: E402
from trtmatte.errors import TrtmatteError  # noqa: E402
from trtmatte.quantize import calibration_stats as stats  # noqa: E402
from trtmatte.quantize import quantize_int8  # noqa: E402
from trtmatte.quantize.int8 import HISTOGRAM_OPTIONS  # noqa: E402

from helpers.tiny_model import TinyLateFusion  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def images(n=5, h=72, w=96, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """TinyLateFusion exported with float32 alpha, and its fused-blend export (a trtmatte-domain op)."""
    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config

    pre = get_config("late_fusion").preprocessing
    root = tmp_path_factory.mktemp("streaming")
    plain = root / "tiny.onnx"
    export_onnx(TinyLateFusion(), "late_fusion", pre, plain, ExportOptions(alpha_dtype="float32"))
    return plain


class WideLateFusion(TinyLateFusion):
    """TinyLateFusion with a 16-channel middle conv: ModelOpt leaves convs with fewer than 16 (or a
    multiple of 8) channels in float, which would leave TinyLateFusion without a single Q/DQ. The
    pool and residual Add are ops ModelOpt's own placement quantizes and trtmatte's does not."""

    def __init__(self):
        super().__init__()
        import torch

        torch.manual_seed(1)
        del self.body  # TinyLateFusion's conv; body() below replaces it
        self.stem = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 5, padding=2), torch.nn.ReLU())
        self.pool = torch.nn.MaxPool2d(3, stride=1, padding=1)
        self.mid = torch.nn.Conv2d(16, 16, 3, padding=1)
        self.out = torch.nn.Conv2d(16, 8, 3, padding=1)

    def body(self, x):
        x = self.stem(x)
        return self.out(self.mid(self.pool(x)) + x)


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import get_config

    path = tmp_path_factory.mktemp("wide") / "wide.onnx"
    export_onnx(WideLateFusion(), "late_fusion", get_config("late_fusion").preprocessing, path,
                ExportOptions(alpha_dtype="float32"))
    return path


@pytest.fixture(scope="module")
def named(tiny):
    model = onnx.load(str(tiny))
    name_nodes(model.graph)
    return model, analyse(model, str(tiny))


def stored_ranges(model, tmp_path, tensors, pictures, method):
    """onnxruntime's own calibrator, fed all images in one collect_data call (every activation stored)."""
    from onnxruntime import quantization as q

    path = tmp_path / "reference.onnx"
    onnx.save(model, str(path))
    calibrator = q.create_calibrator(
        path, ["Conv"], augmented_model_path=str(tmp_path / "augmented.onnx"),
        calibrate_method=getattr(q.CalibrationMethod, {"max": "MinMax", "percentile": "Percentile"}[method]),
        extra_options={"symmetric": True, "percentile": 99.999, **HISTOGRAM_OPTIONS[method]})

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self.it = iter(pictures)

        def get_next(self):
            image = next(self.it, None)
            return None if image is None else {"image": image[None]}

    with contextlib.redirect_stdout(io.StringIO()):
        calibrator.collect_data(Reader())
        ranges = calibrator.compute_data()
    return {t: np.asarray(ranges[t].range_value[1]).reshape(-1)[0] for t in tensors}


def streamed(model, tmp_path, tensors, pictures, method, max_memory=2**40):
    # max_memory bounds the *process's* resident size, and pytest's grows over a whole run: the roomy
    # default must stay roomy after it (the CLI's own processes are measured in a child below)
    with contextlib.redirect_stdout(io.StringIO()):
        data, info = stats.streaming_ranges(model, tmp_path, tensors, pictures, None, method, 99.999, True,
                                            HISTOGRAM_OPTIONS[method], max_memory, "image", "trimap")
    return {t: np.asarray(data[t].range_value[1]).reshape(-1)[0] for t in tensors}, info


def test_streaming_max_equals_stored_activations(named, tmp_path):
    """max: running min/max over images == onnxruntime's calibrator holding every activation."""
    model, anatomy = named
    tensors = stats.calibrated_tensors(model, anatomy.convs, outputs_too=False)
    pictures = images()
    reference = stored_ranges(model, tmp_path, tensors, pictures, "max")
    ours, info = streamed(model, tmp_path, tensors, pictures, "max")
    assert info.passes == 1 and info.images == 5 and info.tensors == len(tensors) >= 2
    for t in tensors:
        assert ours[t] == pytest.approx(reference[t], rel=1e-5), t


def test_streaming_percentile_approximates_stored_activations(named, tmp_path):
    """percentile: the same histogram collector fed image by image; the threshold moves by at most
    about a bin (max / 2048) from the one of all images at once."""
    model, anatomy = named
    tensors = stats.calibrated_tensors(model, anatomy.convs, outputs_too=False)
    pictures = images()
    reference = stored_ranges(model, tmp_path, tensors, pictures, "percentile")
    ours, _ = streamed(model, tmp_path, tensors, pictures, "percentile")
    maxima, _ = streamed(model, tmp_path, tensors, pictures, "max")
    for t in tensors:
        assert abs(ours[t] - reference[t]) <= 2 * maxima[t] / 2048 + 1e-6, t
        assert ours[t] <= maxima[t] * (1 + 1e-6)


def test_a_small_budget_splits_tensors_into_passes_with_the_same_ranges(named, tmp_path):
    model, anatomy = named
    tensors = stats.calibrated_tensors(model, anatomy.convs, outputs_too=False)
    pictures = images(3)
    one, info_one = streamed(model, tmp_path, tensors, pictures, "percentile")
    many, info_many = streamed(model, tmp_path, tensors, pictures, "percentile", max_memory=1)
    assert info_one.passes == 1 and info_many.passes == len(tensors)
    assert info_many.buffer_bytes < info_one.buffer_bytes
    assert all(one[t] == many[t] for t in tensors)


def test_plan_groups_respects_the_budget():
    sizes = {"a": 100, "b": 100, "c": 300, "d": 50}
    assert stats.plan_groups(sizes, 10_000, 2) == [["a", "b", "c", "d"]]
    groups = stats.plan_groups(sizes, 700, 2)  # a group + 2 copies of its largest tensor fit 700
    assert groups == [["a", "b"], ["c"], ["d"]]
    assert stats.plan_groups({"big": 1000}, 10, 2) == [["big"]]  # too big alone: a group of its own


@pytest.fixture(scope="module")
def calib_set(tmp_path_factory):
    from trtmatte.cli.main import main

    pytest.importorskip("skimage", reason="scikit-image is needed for --synthetic composites")
    root = tmp_path_factory.mktemp("sets")
    common = ["--synthetic", "--synthetic-count", "2", "--fg-size", "160", "--crop", "96", "128", "--max-side", "128"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["calibset", *common, "-n", "4", "-o", str(root / "calib")]) == 0
    return root / "calib"


def quantize_cli(tmp_path, *args):
    """`trtmatte quantize ARGS` as a child of GNU time: (exit code, its peak resident size in KiB as
    the kernel counted it, stdout, stderr). Not a direct child of pytest: a child forked from a
    process of several GB starts its high-water mark there (Linux copies the parent's resident pages
    into the fork before exec), so wait4's figure would be pytest's size, not the CLI's."""
    time = shutil.which("time") or "/usr/bin/time"
    if not os.access(time, os.X_OK):
        pytest.skip("GNU time (/usr/bin/time) is needed to measure the child's peak: apt-get install time "
                    "(scripts/install-system-packages.sh installs it)")
    out_file, err_file, rss_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt", tmp_path / "maxrss.txt"
    with open(out_file, "w") as out, open(err_file, "w") as err:
        code = subprocess.run([time, "-f", "%M", "-o", str(rss_file), sys.executable, "-m", "trtmatte.cli.main",
                               "quantize", *map(str, args)], cwd=REPO, stdout=out, stderr=err).returncode
    return code, int(rss_file.read_text().split()[-1]), out_file.read_text(), err_file.read_text()


def test_peak_memory_is_bounded_and_reported(tiny, calib_set, tmp_path):
    """The CLI in a child process, int8 percentile at 256 px: with a roomy budget one pass, with a
    budget too small for any two tensors one pass per tensor; the kernel's peak resident size of
    each child stays under the roomy budget, the chunked one no larger than the single pass (plus
    noise), and the summary line reports the passes and a peak close to the kernel's figure."""
    common = [tiny, "--precision", "int8", "--method", "percentile", "--exclude", "--calib", calib_set,
              "--calib-count", "4", "--calib-size", "256"]
    code, roomy_kib, out, err = quantize_cli(tmp_path, *common, "--max-memory", "1.5", "-o", tmp_path / "a.onnx")
    assert code == 0, err
    assert "in 1 pass(es)" in out and "peak memory" in out
    reported = float(out.split("peak memory ")[1].split(" GB")[0])
    assert roomy_kib * 1024 < 1.5 * 2**30
    assert reported == pytest.approx(roomy_kib * 1024 / 2**30, abs=0.05)
    code, chunked_kib, out, err = quantize_cli(tmp_path, *common, "--max-memory", "0.000001", "-o", tmp_path / "b.onnx")
    assert code == 0, err
    assert "in 2 pass(es)" in out  # the body conv reads the scaled image, the three heads one feature: 2 tensors
    assert chunked_kib <= roomy_kib * 1.1


def scales(path):
    graph = onnx.load(str(path)).graph
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer if i.name.endswith("_scale")}


# ------------------------------------------------------------------------------------------ ModelOpt

def have_modelopt():
    try:
        import modelopt.onnx.quantization  # noqa: F401
    except ImportError as exc:
        return str(exc).splitlines()[0]
    return None


@pytest.fixture(scope="module")
def modelopt_graphs(wide, tmp_path_factory):
    """ModelOpt's INT8 (max, 3 images 64x64, nothing excluded) and FP16 graphs of the wide tiny model."""
    missing = have_modelopt()
    if missing:
        pytest.skip(f"nvidia-modelopt cannot be imported ({missing}): pip install -c constraints.txt -e '.[modelopt]'")
    from trtmatte.quantize.modelopt_ptq import convert_fp16_modelopt, quantize_int8_modelopt

    root = tmp_path_factory.mktemp("modelopt")
    int8_path, fp16_path = root / "mo.int8.onnx", root / "mo.fp16.onnx"
    report = quantize_int8_modelopt(wide, int8_path, images(3, 64, 64), method="max", exclude=())
    convert_fp16_modelopt(wide, fp16_path)
    return int8_path, fp16_path, report


def test_modelopt_int8_and_fp16_run_in_ortsession(wide, modelopt_graphs):
    from trtmatte.contract.graphio import read_metadata_file
    from trtmatte.runtime.ort_session import OrtSession

    int8_path, fp16_path, report = modelopt_graphs
    photo = images(1, 80, 96, seed=7)[0]
    expected = OrtSession(str(wide)).run(photo)[0]
    for path, precision, tolerance in ((int8_path, "int8", 0.15), (fp16_path, "fp16", 0.01)):
        meta = read_metadata_file(path)
        assert meta["precision"] == precision and meta["quantizer"] == "modelopt", meta
        assert meta["variant"] == read_metadata_file(wide)["variant"]
        alpha = OrtSession(str(path)).run(photo)[0]
        assert alpha.shape == expected.shape
        assert np.abs(alpha.astype(np.float32) - expected).mean() < tolerance, precision
    graph = onnx.load(str(int8_path)).graph
    assert report.quantized_convs >= 1 and sum(n.op_type == "QuantizeLinear" for n in graph.node) >= 2
    assert "max, 3 images 64x64" in read_metadata_file(int8_path)["calibration"]
    # placed like trtmatte's by default: every DequantizeLinear feeds Convs only (no pools, Concat, Add, Resize)
    dq = {n.output[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    readers = {n.op_type for n in graph.node for i in n.input if i in dq}
    assert readers == {"Conv"}, readers


def test_tensorrt_builds_modelopt_int8_with_int8_convolutions(modelopt_graphs):
    """TensorRT-RTX's builder (no GPU needed) on ModelOpt's graph: its layer report has Int8 convolutions."""
    pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (tensorrt-rtx-cu12) builds engines without a GPU")
    from trtmatte.engine.builder import BuildOptions, build_engine

    int8_path = modelopt_graphs[0]
    result = build_engine(int8_path, int8_path.with_suffix(".plan"),
                          BuildOptions(min_hw=(64, 64), opt_hw=(96, 96), max_hw=(128, 128),
                                       compute_capabilities=["SM86"], flavour="tensorrt_rtx"))
    precisions = [layer.precision for layer in result.report.conv_layers()]
    assert "Int8" in precisions, precisions
    assert result.meta.precision == "int8"


def test_modelopt_refusals_are_one_line(tiny, tmp_path, monkeypatch):
    from trtmatte.quantize import modelopt_ptq

    with pytest.raises(TrtmatteError, match="no 'percentile' method: use --method max or entropy"):
        modelopt_ptq.quantize_int8_modelopt(tiny, tmp_path / "o.onnx", images(1), method="percentile")
    real_import = __import__

    def no_modelopt(name, *args, **kwargs):
        if name.startswith("modelopt"):
            raise ImportError("No module named 'modelopt'", name="modelopt")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", no_modelopt)
    with pytest.raises(TrtmatteError) as error:
        modelopt_ptq.convert_fp16_modelopt(tiny, tmp_path / "o.onnx")
    message = str(error.value)
    assert "\n" not in message and "pip install -c constraints.txt -e '.[modelopt]'" in message
    assert not (tmp_path / "o.onnx").exists()


def test_modelopt_refuses_plugin_ops(tmp_path):
    """A graph with a trtmatte-domain op (the fused blend) cannot be calibrated on the CPU."""
    from trtmatte.quantize.modelopt_ptq import _check_domains

    model = onnx.helper.make_model(onnx.helper.make_graph(
        [onnx.helper.make_node("FusedBlend", ["x"], ["y"], domain="trtmatte")], "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])]))
    with pytest.raises(TrtmatteError, match="ops of domain trtmatte"):
        _check_domains(model, "fused.onnx")


def test_cli_refuses_modelopt_options_it_cannot_honour(tiny, tmp_path, capsys):
    from trtmatte.cli.main import main

    for extra, message in ((["--method", "percentile"], "no 'percentile' method"),
                           (["--target", "onnxruntime"], "drop --target/--int8-body"),
                           (["--max-memory", "0"], "--max-memory must be a positive")):
        code = main(["quantize", str(tiny), "--quantizer", "modelopt", "--precision", "int8", "--calib", str(tmp_path),
                     *extra, "-o", str(tmp_path / "q.onnx")])
        err = capsys.readouterr().err
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "q.onnx").exists()
