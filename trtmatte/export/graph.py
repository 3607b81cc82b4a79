"""The module the exporter traces: the matting pipeline plus the output contract.

Input ``image``: uint8 [N, H, W, 3] RGB. Output ``alpha``: [N, H, W] as uint8 (x255, rounded;
the default, what a service writes out), float16 or float32 in [0, 1]. With debug outputs,
``fg``, ``bg`` and ``beta`` follow as float32 [N, h, w] at the network's working size.
"""
from __future__ import annotations

import torch
from torch import nn

from ..contract.names import ALPHA, DEBUG_OUTPUTS
from ..models.matting_pipeline import MattingPipeline
from ..models.registry import Preprocessing

ALPHA_DTYPES = {"uint8": torch.uint8, "float16": torch.float16, "float32": torch.float32}


class ExportGraph(nn.Module):
    def __init__(self, network: nn.Module, preprocessing: Preprocessing, alpha_dtype: str = "uint8",
                 debug_outputs: bool = False):
        super().__init__()
        if alpha_dtype not in ALPHA_DTYPES:
            raise ValueError(f"alpha_dtype must be one of {sorted(ALPHA_DTYPES)}, got {alpha_dtype!r}")
        self.pipeline = MattingPipeline(network, preprocessing)
        self.alpha_dtype = alpha_dtype
        self.debug_outputs = debug_outputs

    @property
    def output_names(self) -> list[str]:
        return [ALPHA, *DEBUG_OUTPUTS] if self.debug_outputs else [ALPHA]

    def forward(self, image: torch.Tensor):
        out = self.pipeline(image)
        alpha = out.alpha
        if self.alpha_dtype == "uint8":
            # alpha is already clamped to [0, 1], so round(x255) fits uint8 without another clamp
            alpha = torch.round(alpha * 255.0).to(torch.uint8)
        else:
            alpha = alpha.to(ALPHA_DTYPES[self.alpha_dtype])
        if self.debug_outputs:
            return alpha, out.fg, out.bg, out.beta
        return alpha
