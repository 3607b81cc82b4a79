"""The whole matting pipeline as one module: raw pixels in, alpha out.

This is what the ONNX export traces and what the PyTorch backend runs, so every backend sees
the same pre/post-processing:

    uint8 [N, H, W, 3] RGB -> float -> NCHW -> antialiased resize to the working size
    (longer side capped, each side rounded up to 32) -> subtract mean -> network -> alpha
    -> antialiased resize back to H x W -> clamp to [0, 1] -> float alpha [N, H, W]
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .preprocess import normalize, resize_nchw, working_size
from .registry import Preprocessing


class PipelineOutput(NamedTuple):
    alpha: torch.Tensor  # [N, H, W] in [0, 1]
    fg: torch.Tensor  # [N, h, w] at the working size (debug)
    bg: torch.Tensor
    beta: torch.Tensor


class MattingPipeline(nn.Module):
    def __init__(self, network: nn.Module, preprocessing: Preprocessing):
        super().__init__()
        self.network = network
        self.pre = preprocessing

    def forward(self, image: torch.Tensor) -> PipelineOutput:
        # Cast before anything else: TensorRT only casts uint8 tensors (docs/design.md).
        x = image.to(torch.float32).permute(0, 3, 1, 2)
        height, width = x.shape[-2], x.shape[-1]
        h, w = working_size(height, width, self.pre.size_multiple, self.pre.max_side)
        # Resize before the mean subtraction like the authors (rows of the resize weights sum to
        # one, so the order only matters for rounding).
        x = normalize(resize_nchw(x, h, w), self.pre)
        out = self.network(x)
        alpha = resize_nchw(out.alpha, height, width).clamp(0.0, 1.0)
        return PipelineOutput(alpha[:, 0], out.fg[:, 0], out.bg[:, 0], out.beta[:, 0])
