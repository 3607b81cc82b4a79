"""Give an untrained network realistic activations: re-estimate BatchNorm statistics on photos.

A randomly initialised Late Fusion network with default BN statistics (mean 0, var 1) blows up
activations through 200+ layers and predicts a near-constant alpha, so numerical parity measured
on it says nothing. Re-estimating every BN layer's running statistics on real photos (the
standard "BN recalibration") keeps each layer's output normalised; then the logit layers
(``model.logit_layers()``: Late Fusion's F, B and beta; AdaMatting's trimap, alpha and propagation
heads) are rescaled so their sigmoids and softmax span their range. Trimap models are fed trimaps
drawn from the photos themselves (trtmatte.trimap.from_rough_mask). The result is still untrained — its mattes
are not meaningful — but its alpha varies across the image like a real model's, which is what
export parity, quantization error and benchmarks need until trained weights exist.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import nn

from .matting_pipeline import MattingPipeline
from .registry import Preprocessing


def _network_inputs(images: Iterable[np.ndarray], pre: Preprocessing, trimaps: bool = False) -> list[tuple]:
    """Pre-processed NCHW tensors (and one-hot trimaps), exactly as the pipeline feeds the network."""
    from ..trimap import from_rough_mask

    captured = []

    class Capture(nn.Module):
        needs_trimap = trimaps

        def forward(self, *x):
            captured.append(x)
            raise StopIteration  # the input is all we need

    pipe = MattingPipeline(Capture(), pre)
    for image in images:
        image = np.array(image, dtype=np.uint8)  # writable copy
        trimap = torch.from_numpy(from_rough_mask(image))[None] if trimaps else None
        try:
            pipe(torch.from_numpy(image)[None], trimap)
        except StopIteration:
            pass
    return captured


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, images: Iterable[np.ndarray], pre: Preprocessing,
                          logit_std: float = 2.0) -> nn.Module:
    """Re-estimate BN statistics on ``images`` (uint8 HxWx3) and scale the logit layers so the
    F, B and beta logits have standard deviation ``logit_std`` over those images. Returns the
    model in eval mode."""
    inputs = _network_inputs(images, pre, bool(getattr(model, "needs_trimap", False)))
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over all calibration batches
    model.eval()
    for bn in bns:
        bn.train()
    for x in inputs:
        model(*x)
    for bn in bns:
        bn.momentum = 0.1
    model.eval()

    logit_layers = model.logit_layers()
    logits: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(logit_layers))}
    hooks = [layer.register_forward_hook(lambda _m, _i, out, i=i: logits[i].append(out.flatten()))
             for i, layer in enumerate(logit_layers)]
    try:
        for x in inputs:
            model(*x)
    finally:
        for h in hooks:
            h.remove()
    for i, layer in enumerate(logit_layers):
        values = torch.cat(logits[i])
        centre, spread = values.mean(), values.std().clamp_min(1e-6)
        gain = logit_std / spread
        layer.weight.mul_(gain)
        layer.bias.copy_((layer.bias - centre) * gain)  # centre each logit at 0
    return model
