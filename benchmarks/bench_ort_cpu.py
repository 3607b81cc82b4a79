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
    """{"fp32": path, "int8": path} of the whole-pipeline late_fusion graph."""
    from trtmatte.export import ExportOptions, export_onnx
    from trtmatte.models import create_model, get_config
    from trtmatte.models.bn_recalibration import recalibrate_batchnorm, sample_photos
    from trtmatte.quantize import quantize_int8

    root = tmp_path_factory.mktemp("ort_bench")
    pre = get_config("late_fusion").preprocessing
    torch.manual_seed(0)
    photos = sample_photos(320)
    model = recalibrate_batchnorm(create_model("late_fusion"), photos[:4], pre)
    fp32, int8 = root / "late_fusion.onnx", root / "late_fusion_int8.onnx"
    export_onnx(model, "late_fusion", pre, fp32, ExportOptions(), weights_provenance="random, BN re-estimated (benchmark)")
    quantize_int8(fp32, int8, photos[:4])
    return {"fp32": fp32, "int8": int8}


def frame() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (1, SIZE, SIZE, 3), dtype=np.uint8)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_ort_cpu_pipeline_800(benchmark, label, graphs, precision):
    import onnxruntime

    from trtmatte.runtime import OrtSession

    session = OrtSession(graphs[precision])
    assert session.info.precision == precision  # the label comes from the graph, not from this test
    label("onnxruntime", precision, session.info.device, onnxruntime_version=onnxruntime.__version__,
          input=f"uint8 1x{SIZE}x{SIZE}x3 whole pipeline", weights="random, BN re-estimated on photos",
          paper_seconds_per_image=0.39)
    alpha = benchmark.pedantic(session.run, args=(frame(),), rounds=5, iterations=1, warmup_rounds=1)
    assert alpha.shape == (1, SIZE, SIZE)
    benchmark.extra_info["speedup_vs_paper"] = 0.39 / benchmark.stats.stats.mean
