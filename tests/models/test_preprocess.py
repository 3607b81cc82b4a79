from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trtmatte.models import get_config
from trtmatte.models.matting_pipeline import MattingPipeline
from trtmatte.models.preprocess import normalize, resize_nchw, resize_weights, working_size


@pytest.mark.parametrize("hw,expected", [
    ((320, 320), (320, 320)),  # already multiples of 32
    ((497, 800), (512, 800)),  # rounded up, not down
    ((1, 1), (32, 32)),
    ((1000, 600), (800, 480)),  # capped: 600 * 0.8 = 480
    ((1600, 3200), (416, 800)),  # capped to 400 x 800, then 400 -> 416
    ((801, 10), (800, 32)),
    ((1, 1700), (32, 800)),  # the short side would round to 0 under the cap: at least one row
    ((2000, 1), (800, 32)),
])
def test_working_size(hw, expected):
    assert working_size(*hw) == expected


def test_working_size_custom_cap():
    assert working_size(1024, 640, max_side=512) == (512, 320)


def test_working_size_raises_small_inputs_to_min_side():
    """The graph contract's lower bound: a 240-px photo is matted at the trained working size (384),
    larger ones as before; α returns at the input's size (the pipeline resizes back)."""
    assert working_size(240, 320, min_side=384) == (288, 384)
    assert working_size(1, 1, min_side=384) == (384, 384)
    assert working_size(1000, 600, min_side=384) == working_size(1000, 600) == (800, 480)
    assert working_size(240, 320, max_side=256, min_side=384) == (192, 256)  # the cap wins
    pipeline = MattingPipeline(_Mean(), dataclasses.replace(get_config("late_fusion_lite").preprocessing, min_side=64))
    alpha = pipeline(torch.full((1, 20, 30, 3), 200, dtype=torch.uint8)).alpha
    assert alpha.shape == (1, 20, 30) and pipeline.network.seen == [(64, 64)]  # 20x30 -> 43x64, rounded up to 32s


@pytest.mark.parametrize("src,dst", [((100, 80), (64, 96)), ((37, 51), (200, 130)), ((500, 300), (33, 77)),
                                     ((64, 64), (64, 64))])
def test_resize_equals_torch_antialias(src, dst):
    x = torch.rand(2, 3, *src) * 255
    ref = F.interpolate(x, dst, mode="bilinear", antialias=True, align_corners=False)
    assert torch.allclose(resize_nchw(x, *dst), ref, atol=2e-4)


def test_resize_weights_rows_sum_to_one_and_identity():
    w = resize_weights(123, 45)
    assert torch.allclose(w.sum(1), torch.ones(45))
    assert torch.equal(resize_weights(7, 7), torch.eye(7))


def test_normalize_subtracts_authors_mean():
    pre = get_config("late_fusion").preprocessing
    x = torch.full((1, 3, 2, 2), 200.0)
    out = normalize(x, pre)
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([200 - 127.156207, 200 - 115.917443, 200 - 106.031127]))


class _Spy(torch.nn.Module):
    """Records the network input; returns alpha = a fixed function of it."""

    def forward(self, x):
        self.seen = x
        from trtmatte.models.late_fusion import LateFusionOutput
        a = torch.sigmoid(x.mean(1, keepdim=True) / 50)
        return LateFusionOutput(a, a, 1 - a, torch.full_like(a, 0.5))


def test_pipeline_contract():
    pre = get_config("late_fusion").preprocessing
    spy = _Spy()
    pipe = MattingPipeline(spy, pre)
    img = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 45, 70, 3), dtype=np.uint8))
    out = pipe(img)
    assert out.alpha.shape == (2, 45, 70) and out.alpha.dtype == torch.float32
    assert spy.seen.shape == (2, 3, 64, 96)  # each side rounded up to 32
    # network input is the antialiased resize of the NCHW image minus the mean
    ref = F.interpolate(img.permute(0, 3, 1, 2).float(), (64, 96), mode="bilinear", antialias=True)
    ref = ref - torch.tensor(pre.mean).view(1, 3, 1, 1)
    assert torch.allclose(spy.seen, ref, atol=1e-3)
    assert float(out.alpha.min()) >= 0 and float(out.alpha.max()) <= 1


class _Mean(torch.nn.Module):
    """A stand-in network that records the working size it is given and returns a flat α."""

    debug_outputs = ()

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        from types import SimpleNamespace

        self.seen.append(tuple(x.shape[-2:]))
        return SimpleNamespace(alpha=torch.full_like(x[:, :1], 0.5))
