"""Late Fusion -> trimap -> AdaMatting as one pipeline: only the image goes in.

Late Fusion's decoders give F and B at its working size; both are resized to the image's size
(the pipeline's antialiased filter), thresholded into a trimap (trtmatte.trimap.AutoTrimapOptions:
confidence and erosion of the known regions), and that trimap feeds the AdaMatting pipeline as if a
user had given it. Exported, this is one graph with the contract of a trimap-free model (``image``
in; ``alpha``, ``trimap_adapted`` and the derived ``trimap_auto`` out), so every backend, the batch
job and videos run it unchanged. The Late Fusion alpha itself is computed by nothing: the exporter
drops the blend and its resize.
"""
from __future__ import annotations

import torch
from torch import nn

from ..contract.names import IMAGE, TRIMAP_AUTO
from ..trimap import AutoTrimapOptions
from .matting_pipeline import MattingPipeline, PipelineOutput
from .preprocess import resize_nchw
from .registry import Preprocessing
from .trimap_ops import auto_trimap


class AutoTrimapPipeline(nn.Module):
    needs_trimap = False
    input_names = (IMAGE,)

    def __init__(self, late_fusion: nn.Module, late_fusion_pre: Preprocessing, matting: nn.Module,
                 matting_pre: Preprocessing, options: AutoTrimapOptions = AutoTrimapOptions(),
                 enforce_trimap: bool = True):
        super().__init__()
        options.check()
        self.source = MattingPipeline(late_fusion, late_fusion_pre)
        self.matting = MattingPipeline(matting, matting_pre, enforce_trimap)
        if self.source.needs_trimap or not self.matting.needs_trimap:
            raise ValueError("AutoTrimapPipeline takes a trimap-free Late Fusion network and a trimap-based one")
        self.options = options
        self.pre = matting_pre
        self.extra_outputs = (*self.matting.extra_outputs, TRIMAP_AUTO)
        self.debug_outputs = (*self.source.debug_outputs, *self.matting.debug_outputs)

    def trimap(self, image: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The derived trimap (float values 0 / 128 / 255, [N, H, W]) and Late Fusion's debug maps."""
        lf = self.source(image)
        height, width = image.shape[1], image.shape[2]
        fg, bg = (resize_nchw(lf.debug[name][:, None], height, width)[:, 0] for name in ("fg", "bg"))
        return auto_trimap(fg, bg, self.options), lf.debug

    def forward(self, image: torch.Tensor, trimap: None = None) -> PipelineOutput:
        derived, lf_debug = self.trimap(image)
        out = self.matting(image, derived)
        return PipelineOutput(out.alpha, {**out.outputs, TRIMAP_AUTO: derived}, {**lf_debug, **out.debug})
