"""PyTorch CPU latency of the paper's network on one 800x800 image (the paper: 0.39 s on a GPU).

Usage: python -m pytest benchmarks/bench_torch_cpu.py --benchmark-autosave
"""
from __future__ import annotations

import numpy as np
import torch

from trtmatte.models import create_model, get_config
from trtmatte.runtime import TorchSession


def test_late_fusion_forward_800(benchmark, label):
    torch.manual_seed(0)
    model = create_model("late_fusion")
    x = torch.randn(1, 3, 800, 800) * 60
    label("torch", "fp32", "cpu", torch_version=torch.__version__, input="1x3x800x800 network only")
    with torch.inference_mode():
        out = benchmark.pedantic(model, args=(x,), rounds=3, iterations=1, warmup_rounds=1)
    assert out.alpha.shape == (1, 1, 800, 800)


def test_late_fusion_pipeline_800(benchmark, label):
    """The whole pipeline (uint8 in, resize, network, resize back, alpha out) on a real photo size."""
    torch.manual_seed(0)
    session = TorchSession(create_model("late_fusion"), get_config("late_fusion").preprocessing, "late_fusion")
    image = np.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    label("torch", "fp32", "cpu", torch_version=torch.__version__, input="uint8 800x800x3 whole pipeline")
    alpha = benchmark.pedantic(session.run, args=(image,), rounds=3, iterations=1, warmup_rounds=1)
    assert alpha.shape == (1, 800, 800)
