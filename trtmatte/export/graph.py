"""The module the exporter traces: the matting pipeline plus the output contract.

Inputs: ``image`` uint8 [N, H, W, 3] RGB, and for trimap-based networks ``trimap`` uint8 [N, H, W]
(0 / 128 / 255). Output ``alpha``: [N, H, W] as uint8 (x255, rounded; the default, what a service
writes out), float16 or float32 in [0, 1]. Trimap-based networks add ``trimap_adapted`` (uint8
[N, H, W], 0 / 128 / 255). With debug outputs, the network's debug maps follow as float32
[N, h, w] at the working size (Late Fusion: ``fg``, ``bg``, ``beta``).
"""
from __future__ import annotations

import torch
from torch import nn

from ..contract.names import ALPHA
from ..models.matting_pipeline import MattingPipeline
from ..models.registry import Preprocessing

ALPHA_DTYPES = {"uint8": torch.uint8, "float16": torch.float16, "float32": torch.float32}


class ExportGraph(nn.Module):
    def __init__(self, network: nn.Module, preprocessing: Preprocessing | None = None, alpha_dtype: str = "uint8",
                 debug_outputs: bool = False, enforce_trimap: bool = True):
        """``network`` with ``preprocessing`` becomes a MattingPipeline; without preprocessing,
        ``network`` is already a pipeline (input_names, extra_outputs, debug_outputs, PipelineOutput)."""
        super().__init__()
        if alpha_dtype not in ALPHA_DTYPES:
            raise ValueError(f"alpha_dtype must be one of {sorted(ALPHA_DTYPES)}, got {alpha_dtype!r}")
        self.pipeline = network if preprocessing is None else MattingPipeline(network, preprocessing, enforce_trimap)
        self.alpha_dtype = alpha_dtype
        self.debug_outputs = debug_outputs

    @property
    def input_names(self) -> list[str]:
        return list(self.pipeline.input_names)

    @property
    def output_names(self) -> list[str]:
        debug = list(self.pipeline.debug_outputs) if self.debug_outputs else []
        return [ALPHA, *self.pipeline.extra_outputs, *debug]

    def forward(self, image: torch.Tensor, trimap: torch.Tensor | None = None):
        out = self.pipeline(image) if trimap is None else self.pipeline(image, trimap)
        alpha = out.alpha
        if self.alpha_dtype == "uint8":
            # alpha is already clamped to [0, 1], so round(x255) fits uint8 without another clamp
            alpha = torch.round(alpha * 255.0).to(torch.uint8)
        else:
            alpha = alpha.to(ALPHA_DTYPES[self.alpha_dtype])
        # the other outputs are trimaps: exact 0 / 128 / 255 in float, so a cast is exact
        extras = [out.outputs[name].to(torch.uint8) for name in self.pipeline.extra_outputs]
        debug = [out.debug[name] for name in self.pipeline.debug_outputs] if self.debug_outputs else []
        outputs = (alpha, *extras, *debug)
        return outputs if len(outputs) > 1 else alpha
