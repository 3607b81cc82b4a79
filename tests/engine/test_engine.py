"""TensorRT engines, really built with TensorRT-RTX (no GPU needed to build), of the real Late
Fusion network. Nothing here executes an engine: no machine here can run TensorRT (see the skip)."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

trt = pytest.importorskip("tensorrt_rtx", reason="TensorRT-RTX (pip install tensorrt-rtx-cu12) builds the engines")

from trtmatte.cli.main import main  # noqa: E402
from trtmatte.engine.builder import BuildOptions, build_engine  # noqa: E402
from trtmatte.engine.cache import EngineCache  # noqa: E402
from trtmatte.engine.flavour import GpuInfo, current_gpu  # noqa: E402
from trtmatte.engine.layer_report import LayerReport  # noqa: E402
from trtmatte.engine.loader import load  # noqa: E402
from trtmatte.engine.sidecar import EngineMeta, layers_path, read_sidecar, sidecar_path  # noqa: E402
from trtmatte.errors import TrtmatteError  # noqa: E402

SMALL = BuildOptions(min_hw=(64, 64), opt_hw=(128, 128), max_hw=(256, 256), compute_capabilities=["SM86"],
                     flavour="tensorrt_rtx")


@pytest.fixture(scope="module")
def fp32_plan(late_fusion_export, tmp_path_factory):
    onnx_path = late_fusion_export[0]
    plan = tmp_path_factory.mktemp("plans") / "lf_fp32.plan"
    result = build_engine(onnx_path, plan, replace(SMALL, timing_cache=str(plan.parent / "timing.cache")))
    return onnx_path, result


def test_fp32_plan_sidecar_and_report(fp32_plan):
    onnx_path, result = fp32_plan
    meta = read_sidecar(result.plan)
    assert meta.tensorrt_flavour == "tensorrt_rtx" and meta.tensorrt_version == trt.__version__
    assert meta.precision == "fp32" and meta.targets == ["SM86"]
    assert meta.profile == {"image": {"min": [1, 64, 64, 3], "opt": [1, 128, 128, 3], "max": [1, 256, 256, 3]}}
    assert meta.onnx_metadata["variant"] == "late_fusion" and len(meta.onnx_sha256) == 64
    assert meta.plan_bytes == result.plan.stat().st_size > 100 * 2**20  # 37.7M float32 weights
    assert "trtmatte build" in meta.rebuild_command and "--min 64x64" in meta.rebuild_command
    report = LayerReport.from_json(layers_path(result.plan).read_text())
    counts = report.precision_counts()
    assert len(report.conv_layers()) >= 200 and set(counts) == {"Float"}  # the network's convs, all FP32
    assert [t.name for t in report.io] == ["image", "alpha"] and report.io[0].dtype == "UInt8"
    assert report.io[0].profile["max"] == [1, 256, 256, 3]
    # TensorRT-RTX has no timing cache: the option is reported as ignored, no file is written
    assert not (result.plan.parent / "timing.cache").exists()
    assert meta.notes == [f"timing cache {result.plan.parent / 'timing.cache'} not used: TensorRT-RTX {trt.__version__} has no timing cache"]


def test_inspect_cli(fp32_plan, capsys):
    plan = fp32_plan[1].plan
    assert main(["inspect", str(plan)]) == 0
    out = capsys.readouterr().out
    assert "precision fp32" in out and "Float" in out and "min [1, 64, 64, 3]" in out and "report: builder-log" in out
    assert main(["inspect", str(plan), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["precision_counts"]["Float"] >= 233
    assert summary["device_memory_bytes"]["weights"] > 100 * 2**20
    assert any(layer["weights"] == "Float" for layer in summary["layers"])


def _copy_plan(result, tmp_path):
    plan = tmp_path / "copy.plan"
    for src, dst in ((result.plan, plan), (sidecar_path(result.plan), sidecar_path(plan)),
                     (layers_path(result.plan), layers_path(plan))):
        shutil.copy(src, dst)
    return plan


def _edit_sidecar(plan, **changes):
    data = json.loads(sidecar_path(plan).read_text())
    data.update(changes)
    sidecar_path(plan).write_text(json.dumps(data))


@pytest.mark.parametrize("changes,expect", [
    ({"tensorrt_version": "1.6.0.0"}, r"built with TensorRT-RTX 1\.6\.0\.0 but TensorRT-RTX .* is installed.*rebuild it: `trtmatte build"),
    ({"tensorrt_flavour": "tensorrt", "tensorrt_version": "10.3.0"}, r"built with TensorRT 10\.3\.0 but TensorRT-RTX .* is in use"),
    ({"plugins": [{"library": "/nonexistent/libtrtmatte_plugins.so"}]}, r"needs plugin library /nonexistent/libtrtmatte_plugins\.so"),
    ({"plugins": [{"name": "FusedBlend", "version": "1", "namespace": "trtmatte", "library": "/nonexistent/libp.so"}]},
     r"needs plugin FusedBlend v1 from plugin library /nonexistent/libp\.so, which is missing"),
])
def test_mismatches_refused_before_deserializing(fp32_plan, tmp_path, changes, expect):
    plan = _copy_plan(fp32_plan[1], tmp_path)
    _edit_sidecar(plan, **changes)
    with pytest.raises(TrtmatteError, match=expect):
        load(plan, flavour_name="tensorrt_rtx")


def test_other_gpu_refused(fp32_plan, tmp_path):
    plan = _copy_plan(fp32_plan[1], tmp_path)  # targets SM86
    with pytest.raises(TrtmatteError, match=r"targets SM86 but this GPU is NVIDIA H100 80GB HBM3 \(SM90\).*--compute-capability SM90"):
        load(plan, flavour_name="tensorrt_rtx", gpu=GpuInfo("NVIDIA H100 80GB HBM3", (9, 0)))


def test_no_gpu_one_line(fp32_plan):
    if current_gpu() is not None:
        pytest.skip("this machine has a GPU; the no-GPU error cannot occur")
    with pytest.raises(TrtmatteError, match=r"no CUDA GPU found: a TensorRT engine .* runs only on an NVIDIA GPU"):
        load(fp32_plan[1].plan)


def test_missing_or_corrupt_sidecar(fp32_plan, tmp_path):
    plan = _copy_plan(fp32_plan[1], tmp_path)
    sidecar_path(plan).write_text("{not json")
    with pytest.raises(TrtmatteError, match="not a valid trtmatte sidecar"):
        load(plan)
    sidecar_path(plan).unlink()
    with pytest.raises(TrtmatteError, match="has no sidecar"):
        load(plan)


def test_cache_builds_once(late_fusion_export, tmp_path):
    cache = EngineCache(tmp_path / "cache")
    plan, hit = cache.get_or_build(late_fusion_export[0], SMALL)
    assert not hit and plan.is_file()
    again, hit = cache.get_or_build(late_fusion_export[0], SMALL)
    assert hit and again == plan
    other, hit = cache.get_or_build(late_fusion_export[0], replace(SMALL, max_hw=(320, 320)))  # another profile
    assert not hit and other != plan
    plan.write_bytes(b"truncated")  # a damaged entry is rebuilt, not trusted
    rebuilt, hit = cache.get_or_build(late_fusion_export[0], SMALL)
    assert not hit and rebuilt == plan and plan.stat().st_size > 100 * 2**20


def test_build_errors(late_fusion_export, tmp_path):
    onnx_path = late_fusion_export[0]
    with pytest.raises(TrtmatteError, match="min <= opt"):
        build_engine(onnx_path, tmp_path / "x.plan", replace(SMALL, min_hw=(512, 512)))
    with pytest.raises(TrtmatteError, match="cannot target SM90"):
        build_engine(onnx_path, tmp_path / "x.plan", replace(SMALL, compute_capabilities=["SM90"]))
    with pytest.raises(TrtmatteError, match="has no plugin layers"):
        build_engine(onnx_path, tmp_path / "x.plan", replace(SMALL, plugins=["libx.so"]))
    with pytest.raises(TrtmatteError, match="directory .* does not exist"):
        build_engine(onnx_path, tmp_path / "nodir" / "x.plan", SMALL)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(TrtmatteError, match="bad.onnx is not a readable ONNX file"):
        build_engine(bad, tmp_path / "x.plan", SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]  # nothing half-written


def test_build_cli_bad_input_exit_1(tmp_path, capsys):
    assert main(["build", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "x.plan"), "--no-progress"]) == 1
    assert "ONNX file" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "missing.onnx"), "-o", str(tmp_path / "x.plan"), "--min", "big"]) == 1
    assert "--min must look like HxW" in capsys.readouterr().err


@pytest.fixture(scope="module")
def reduced_precision_plans(late_fusion_export, tmp_path_factory):
    """FP16 and INT8 (max calibration on two real photos) graphs of the paper's network, built."""
    import numpy as np
    from PIL import Image

    from trtmatte.data.photos import sample_photos
    from trtmatte.quantize import convert_fp16, quantize_int8

    onnx_path = late_fusion_export[0]
    root = tmp_path_factory.mktemp("precision")
    convert_fp16(onnx_path, root / "fp16.onnx")
    photos = [np.asarray(Image.fromarray(p).resize((128, 128), Image.BILINEAR)) for p in sample_photos(256)[:2]]
    quantize_int8(onnx_path, root / "int8.onnx", photos, method="max")
    return {p: build_engine(root / f"{p}.onnx", root / f"{p}.plan", SMALL) for p in ("fp16", "int8")}


def test_fp16_plan_runs_convolutions_in_half(reduced_precision_plans, fp32_plan):
    result = reduced_precision_plans["fp16"]
    assert result.meta.precision == "fp16"
    convs = result.report.conv_layers()
    assert len(convs) >= 200  # 233 ONNX Convs; TensorRT may merge a few
    assert all(layer.precision == "Half" for layer in convs), result.report.precision_counts()
    # (a fused layer's weights are not always identifiable among its constants)
    assert all(layer.weights.dtype == "Half" for layer in convs if layer.weights is not None)
    assert result.meta.plan_bytes < 0.6 * fp32_plan[1].meta.plan_bytes  # half-size weights


def test_int8_plan_runs_convolutions_in_int8(reduced_precision_plans, fp32_plan):
    result = reduced_precision_plans["int8"]
    assert result.meta.precision == "int8"
    convs = result.report.conv_layers()
    int8 = [layer for layer in convs if layer.precision == "Int8"]
    assert len(int8) >= 200, result.report.precision_counts()
    assert all(layer.weights is not None and layer.weights.dtype == "Int8" for layer in int8)
    # everything else is one of the 5 convs kept in higher precision (stem, RGB conv, 3 logit convs),
    # in Half: the INT8 graph's float body is float16 (`trtexec --fp16 --int8`), so no conv is Float
    assert len(convs) - len(int8) <= 5, result.report.precision_counts()
    assert all(layer.precision == "Half" for layer in convs if layer.precision != "Int8"), result.report.precision_counts()
    # int8 weights: under half the FP32 plan (scales, the 5 float convs and the plan's own overhead
    # stay), and smaller than the FP16 plan
    assert result.meta.plan_bytes < 0.5 * fp32_plan[1].meta.plan_bytes
    assert result.meta.plan_bytes < reduced_precision_plans["fp16"].meta.plan_bytes


def test_profile_of_a_trimap_input_follows_the_image():
    opts = BuildOptions(min_hw=(64, 80), opt_hw=(128, 160), max_hw=(256, 320), batch=(1, 2, 4))
    image, trimap = opts.profile([-1, -1, -1, 3]), opts.profile([-1, -1, -1])
    assert image == {"min": [1, 64, 80, 3], "opt": [2, 128, 160, 3], "max": [4, 256, 320, 3]}
    assert trimap == {key: dims[:3] for key, dims in image.items()}
    assert opts.profile([1, 96, 96]) == {key: [1, 96, 96] for key in ("min", "opt", "max")}  # static dims win
    with pytest.raises(TrtmatteError, match="images and .* trimaps"):
        opts.profile([-1, -1])


def test_engine_cache_builds_a_trimap_graph(adamatting_export, tmp_path):
    """`Matter(--backend tensorrt --onnx)` builds through the cache: a two-input graph goes through."""
    opts = BuildOptions(min_hw=(64, 64), opt_hw=(64, 64), max_hw=(128, 128), flavour="tensorrt_rtx",
                        compute_capabilities=["SM86"])
    plan, hit = EngineCache(tmp_path / "cache").get_or_build(adamatting_export[0], opts)
    assert not hit and set(read_sidecar(plan).profile) == {"image", "trimap"}


def test_rtx_refuses_a_gpu_it_has_no_target_for():
    """TensorRT-RTX 1.7 lists no SM90: building on an H100 without --compute-capability is one line, not a
    traceback from looking the target up."""
    from trtmatte.engine.flavour import get_flavour, rtx_targets

    flavour = get_flavour("tensorrt_rtx")
    hopper = GpuInfo("NVIDIA H100 80GB HBM3", (9, 0))
    if hasattr(trt.ComputeCapability, "SM90"):
        assert rtx_targets(flavour, None, hopper) == ["SM90"]
        return
    with pytest.raises(TrtmatteError, match="cannot target this GPU .*SM90.*--compute-capability"):
        rtx_targets(flavour, None, hopper)
    assert rtx_targets(flavour, ["sm89"], hopper) == ["SM89"]
