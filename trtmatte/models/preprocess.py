"""Pre- and post-processing as torch ops that trace and export (no data-dependent Python).

Resizing is antialiased bilinear (the authors' inference resize) written as two matrix products
with weights built from the tensor sizes. ``F.interpolate(antialias=True)`` computes the same
thing, but neither TensorRT's Resize (no antialiasing) nor the TorchScript exporter accept it;
a MatMul with weights from Range/Abs/Relu ops parses everywhere and stays exact.
"""
from __future__ import annotations

import torch

from .registry import Preprocessing


def working_size(height, width, size_multiple: int = 32, max_side: int = 800, min_side: int = 0):
    """Network input size: the longer side brought into [``min_side``, ``max_side``] (aspect
    kept: a smaller input is resized up, a larger one down), then H and W each rounded *up* to
    ``size_multiple``. Integer-only and branch-free so symbolic shapes trace."""
    longest = torch.sym_max(height, width)
    capped = torch.sym_min(torch.sym_max(longest, min(min_side, max_side)), max_side)
    # round(h * capped / longest), half up; equals h exactly when no cap applies. At least 1: a
    # 1x2000 strip would otherwise round its short side to 0 and leave the network nothing.
    h = torch.sym_max((height * capped + longest // 2) // longest, 1)
    w = torch.sym_max((width * capped + longest // 2) // longest, 1)
    return _round_up(h, size_multiple), _round_up(w, size_multiple)


def _round_up(x, m: int):
    return (x + m - 1) // m * m


def resize_weights(in_size, out_size, dtype=torch.float32, device=None) -> torch.Tensor:
    """``[out_size, in_size]`` row-stochastic matrix of antialiased bilinear (triangle) weights.

    Same filter as PIL's BILINEAR and torch's ``antialias=True``: output pixel i is centred at
    (i + 0.5) * scale in input pixels; the triangle's radius is max(scale, 1), so downscaling
    averages every covered input pixel and upscaling is plain half-pixel bilinear.
    """
    src = torch.arange(in_size, dtype=dtype, device=device) + 0.5
    dst = torch.arange(out_size, dtype=dtype, device=device) + 0.5
    scale = in_size / out_size  # a float, or a SymFloat when exporting with dynamic shapes
    support = torch.sym_max(scale, 1.0)
    centers = dst[:, None] * scale
    w = torch.relu(1.0 - torch.abs(src[None, :] - centers) / support)
    return w / w.sum(dim=1, keepdim=True)


def resize_nchw(x: torch.Tensor, out_h, out_w) -> torch.Tensor:
    """Antialiased bilinear resize of an NCHW float tensor to (out_h, out_w)."""
    wh = resize_weights(x.shape[-2], out_h, x.dtype, x.device)
    ww = resize_weights(x.shape[-1], out_w, x.dtype, x.device)
    return torch.matmul(wh, torch.matmul(x, ww.transpose(0, 1)))


def normalize(x: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
    """Subtract the mean pixel (and divide by std, 1 for the authors' model) on NCHW 0..255 input."""
    mean = torch.tensor(pre.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    x = x - mean
    if any(s != 1.0 for s in pre.std):
        x = x / torch.tensor(pre.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x
