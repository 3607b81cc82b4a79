"""Trimaps as torch ops that trace into the exported graph (the NumPy versions, with the encoding
and its thresholds, are in ``trtmatte.trimap``; tests keep the two equal).

Every op is a comparison, a cast to float, arithmetic or a max-pool, so TensorRT's parser takes
the graph: the uint8 input is cast before anything else, and no bool or int64 tensor leaves a
comparison except through a Cast to float.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..trimap import FOREGROUND, HIGH, LOW, UNKNOWN, AutoTrimapOptions


def known_masks(trimap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(foreground, background) float masks [N, 1, H, W] of a trimap [N, H, W] (uint8, or float
    0..255): value > 170 is foreground, value < 85 background (trtmatte.trimap's thresholds)."""
    t = trimap.to(torch.float32)[:, None]
    return (t > HIGH).to(torch.float32), (t < LOW).to(torch.float32)


def one_hot(trimap: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] float: channels background, unknown, foreground (what the network reads)."""
    fg, bg = known_masks(trimap)
    return torch.cat([bg, 1.0 - fg - bg, fg], dim=1)


def enforce_known(alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """alpha [N, H, W] with 1 where the trimap says foreground and 0 where it says background."""
    fg, bg = known_masks(trimap)
    fg, bg = fg[:, 0], bg[:, 0]
    return alpha * (1.0 - fg - bg) + fg


def class_values(probs: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] class probabilities (background, unknown, foreground) -> [N, H, W] float
    trimap values 0 / 128 / 255 of the most likely class (ties: foreground, then unknown), with
    comparisons instead of ArgMax so no int64 tensor enters the graph."""
    bg, unknown, fg = probs[:, 0], probs[:, 1], probs[:, 2]
    is_fg = ((fg >= unknown) & (fg >= bg)).to(torch.float32)
    is_bg = ((bg > unknown) & (bg > fg)).to(torch.float32)
    return FOREGROUND * is_fg + UNKNOWN * (1.0 - is_fg - is_bg)


def erode(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary erosion of a float 0/1 mask [N, H, W] by a (2 radius + 1)^2 square, as
    trtmatte.trimap.erode: one max-pool of the complement."""
    if radius <= 0:
        return mask
    return 1.0 - F.max_pool2d((1.0 - mask)[:, None], 2 * radius + 1, stride=1, padding=radius)[:, 0]


def auto_trimap(fg: torch.Tensor, bg: torch.Tensor, options: AutoTrimapOptions = AutoTrimapOptions()) -> torch.Tensor:
    """trtmatte.trimap.auto_trimap in torch: F, B [N, H, W] -> float trimap values [N, H, W]."""
    c, lo = options.confidence, 1.0 - options.confidence
    is_fg = erode((fg > c).to(torch.float32) * (bg < lo).to(torch.float32), options.dilation)
    is_bg = erode((bg > c).to(torch.float32) * (fg < lo).to(torch.float32), options.dilation)
    return FOREGROUND * is_fg + UNKNOWN * (1.0 - is_fg - is_bg)
