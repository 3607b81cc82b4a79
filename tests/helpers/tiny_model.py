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


class TinyLateFusion(nn.Module):
    """Like LateFusionNet at the end: three Conv logit heads, three Sigmoids, the eq. 2 blend. The
    fused-blend tests need that structure (the graph rewrite finds Sigmoids fed by Convs)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Conv2d(3, 8, 5, padding=2)
        self.heads = nn.ModuleList(nn.Conv2d(8, 1, 3, padding=1) for _ in range(3))  # fg, bg, beta logits

    def forward(self, x):
        feature = torch.relu(self.body(x / 60.0))
        fg, bg, beta = (torch.sigmoid(head(feature) * 4.0) for head in self.heads)
        return LateFusionOutput(blend(beta, fg, bg), fg, bg, beta)
