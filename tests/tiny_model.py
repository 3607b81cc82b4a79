"""A tiny stand-in for LateFusionNet (same output type) so export/runtime mechanics test in seconds."""
from __future__ import annotations

import torch
from torch import nn

from trtmatte.models.late_fusion import LateFusionOutput, blend


class TinyMatting(nn.Module):
    """Stands in for LateFusionNet (same output type) so export mechanics test in seconds."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 3, 7, padding=3)  # 1.7 kB of weights: big enough for external data
        self.pool = nn.AvgPool2d(32)  # forces the multiple-of-32 working size to matter

    def forward(self, x):
        logits = self.conv(x / 60.0) + nn.functional.interpolate(self.pool(x / 60.0), scale_factor=32.0)
        fg, bg, beta = torch.sigmoid(logits).split(1, dim=1)
        return LateFusionOutput(blend(beta, fg, bg), fg, bg, beta)
