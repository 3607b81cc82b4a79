"""onnxruntime CPU latency of the whole-pipeline `late_fusion` graph at 800x800, FP32 and INT8.

The paper's network (BatchNorm re-estimated on scikit-image's photos, otherwise random weights:
timing does not depend on them) is exported once per benchmark session through trtmatte's
library, then quantized to INT8 Q/DQ with trtmatte.quantize.quantize_int8 on a few photos.
Exporting takes ~2 minutes on 2 cores, quantizing ~30 s; neither is timed.

Usage: python -m pytest benchmarks/bench_ort_cpu.py --benchmark-autosave
       python -m pytest benchmarks/bench_ort_cpu.py --benchmark-compare   # against the last saved run
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime is needed for these benchmarks")
pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos (pip install -e '.[data]')")

SIZE = 800


@pytest.fixture(scope="session")
def graphs(tmp_path_factory):
    """{"fp32": ..., "int8": ..., "int8-onnxruntime": ...} paths of the whole-pipeline late_fusion graph."""
    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import create_model, get_config
    from trtmatte.data.photos import sample_photos
    from trtmatte.models.bn_recalibration import recalibrate_batchnorm
    from trtmatte.quantize import quantize_int8

    root = tmp_path_factory.mktemp("ort_bench")
    pre = get_config("late_fusion").preprocessing
    torch.manual_seed(0)
    photos = sample_photos(320)
    model = recalibrate_batchnorm(create_model("late_fusion"), photos[:4], pre)
    fp32, int8, int8_ort = root / "late_fusion.onnx", root / "late_fusion_int8.onnx", root / "late_fusion_int8_ort.onnx"
    export_onnx(model, "late_fusion", pre, fp32, ExportOptions(), weights_provenance="random, BN re-estimated (benchmark)")
    calibration = [p[:208, :208] for p in photos[:4]]  # calibration images share one size
    quantize_int8(fp32, int8, calibration)  # Q/DQ placed for TensorRT
    quantize_int8(fp32, int8_ort, calibration, target="onnxruntime")  # placed for onnxruntime's int8 kernels
    return {"fp32": fp32, "int8": int8, "int8-onnxruntime": int8_ort}


def frame() -> np.ndarray:
    """A real photo (scikit-image's astronaut) at SIZE x SIZE: int8 ranges are calibrated on photos."""
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((SIZE, SIZE), Image.BILINEAR))[None]


@pytest.mark.parametrize("precision", ["fp32", "int8", "int8-onnxruntime"])
def test_ort_cpu_pipeline_800(benchmark, label, graphs, precision):
    import onnxruntime

    from trtmatte.runtime import OrtSession

    session = OrtSession(graphs[precision])
    assert session.info.precision == precision.split("-")[0]  # the label comes from the graph, not from this test
    label("onnxruntime", precision, session.info.device, onnxruntime_version=onnxruntime.__version__,
          input=f"uint8 1x{SIZE}x{SIZE}x3 whole pipeline", weights="random, BN re-estimated on photos",
          paper_seconds_per_image=0.39)
    alpha = benchmark.pedantic(session.run, args=(frame(),), rounds=5, iterations=1, warmup_rounds=1)
    assert alpha.shape == (1, SIZE, SIZE)
    benchmark.extra_info["speedup_vs_paper"] = 0.39 / benchmark.stats.stats.mean
