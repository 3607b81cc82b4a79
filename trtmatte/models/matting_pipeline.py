"""The whole matting pipeline as one module: raw pixels (and a trimap) in, alpha out.

This is what the ONNX export traces and what the PyTorch backend runs, so every backend sees
the same pre/post-processing:

    uint8 [N, H, W, 3] RGB -> float -> NCHW -> antialiased resize to the working size
    (longer side capped, each side rounded up to 32) -> normalise -> network -> alpha
    -> antialiased resize back to H x W -> clamp to [0, 1] -> float alpha [N, H, W]

Trimap-based networks (``network.needs_trimap``) also take a trimap [N, H, W] (uint8 0/128/255, or
float 0..255): it is read by the thresholds of trtmatte/trimap.py into a one-hot encoding, resized
to the working size like the image, and, with ``enforce_trimap``, its known regions are imposed on
alpha at the input size. Their adapted trimap comes back at the input size as trimap values.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..contract.names import DEBUG_OUTPUTS, IMAGE, TRIMAP, TRIMAP_ADAPTED
from .preprocess import normalize, resize_nchw, working_size
from .registry import Preprocessing
from .trimap_ops import class_values, enforce_known, one_hot


class PipelineOutput(NamedTuple):
    alpha: torch.Tensor  # [N, H, W] in [0, 1]
    outputs: dict  # name -> [N, H, W] at the input size: the contract's outputs besides alpha
    debug: dict  # name -> [N, h, w] at the working size (--debug-outputs)

    def __getattr__(self, name):  # out.fg, out.trimap_adapted, ...: the named outputs as attributes
        for table in (self.outputs, self.debug):
            if name in table:
                return table[name]
        raise AttributeError(name)


def needs_trimap(network: nn.Module) -> bool:
    return bool(getattr(network, "needs_trimap", False))


def output_names(network: nn.Module) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(outputs besides alpha, debug outputs) a network's pipeline produces."""
    return tuple(getattr(network, "extra_outputs", ())), tuple(getattr(network, "debug_outputs", DEBUG_OUTPUTS))


class MattingPipeline(nn.Module):
    def __init__(self, network: nn.Module, preprocessing: Preprocessing, enforce_trimap: bool = True):
        super().__init__()
        self.network = network
        self.pre = preprocessing
        self.needs_trimap = needs_trimap(network)
        self.enforce_trimap = enforce_trimap
        self.extra_outputs, self.debug_outputs = output_names(network)

    @property
    def input_names(self) -> tuple[str, ...]:
        return (IMAGE, TRIMAP) if self.needs_trimap else (IMAGE,)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return normalize(x, self.pre)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor | None = None) -> PipelineOutput:
        # Cast before anything else: TensorRT only casts uint8 tensors (docs/design.md).
        x = image.to(torch.float32).permute(0, 3, 1, 2)
        height, width = x.shape[-2], x.shape[-1]
        h, w = working_size(height, width, self.pre.size_multiple, self.pre.max_side, self.pre.min_side)
        # Resize before the mean subtraction like the authors (rows of the resize weights sum to
        # one, so the order only matters for rounding).
        x = self._normalize(resize_nchw(x, h, w))
        if self.needs_trimap:
            if trimap is None:
                raise ValueError("this network needs a trimap")
            out = self.network(x, resize_nchw(one_hot(trimap), h, w))
        else:
            out = self.network(x)
        alpha = resize_nchw(out.alpha.float(), height, width).clamp(0.0, 1.0)[:, 0]
        if self.needs_trimap and self.enforce_trimap:
            alpha = enforce_known(alpha, trimap)
        outputs = {}
        if TRIMAP_ADAPTED in self.extra_outputs:
            outputs[TRIMAP_ADAPTED] = class_values(resize_nchw(out.trimap.float(), height, width))
        debug = {name: getattr(out, name)[:, 0] for name in self.debug_outputs}
        return PipelineOutput(alpha, outputs, debug)
