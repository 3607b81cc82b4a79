"""The paper's three training stages (Sec. 3.4): what trains, what is frozen, which loss, which LR.

1. ``segmentation``: encoder + both decoders with L_F + L_B on every decoder block. The fusion
   net is not in this loss, so it is not even run (it is ~70% of the network's cost).
2. ``fusion``: the segmentation network frozen (no gradients, BatchNorm statistics fixed, run
   under no_grad), the fusion net trained alone with L_u.
3. ``joint``: everything end to end with L_J, all BatchNorm layers frozen (statistics and affine
   parameters), as the authors did.

Cyclical learning rate (Smith, WACV 2017, triangular policy): base 5e-4 in every stage, peak
1.5e-3 in the two pre-training stages and 1e-3 in joint training.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..models.late_fusion import LateFusionNet, blend
from . import losses

STAGES = ("segmentation", "fusion", "joint")
PAPER_EPOCHS = {"segmentation": 15, "fusion": 4, "joint": 7}
BASE_LR = 5e-4
PEAK_LR = {"segmentation": 1.5e-3, "fusion": 1.5e-3, "joint": 1.0e-3}


def cyclic_lr(step: int, base: float, peak: float, half_cycle: int) -> float:
    """Triangular cyclical LR: ``base`` at step 0, ``peak`` at ``half_cycle``, ``base`` again at
    ``2 * half_cycle``, and so on."""
    cycle = math.floor(1 + step / (2 * half_cycle))
    x = abs(step / half_cycle - 2 * cycle + 1)
    return base + (peak - base) * max(0.0, 1.0 - x)


def stage_lrs(stage: str, base_lr: float = BASE_LR) -> tuple[float, float]:
    """(base, peak) for a stage; a different ``base_lr`` keeps the paper's peak/base ratios."""
    return base_lr, base_lr * PEAK_LR[stage] / BASE_LR


def _segmentation_parts(model: LateFusionNet) -> list[nn.Module]:
    return [model.encoder, model.fg_decoder, model.bg_decoder]


def configure(model: LateFusionNet, stage: str) -> list[nn.Parameter]:
    """Set train/eval modes and requires_grad for ``stage``; return the parameters to optimise."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
    if stage == "segmentation":
        model.fusion.requires_grad_(False)
    elif stage == "fusion":
        for part in _segmentation_parts(model):
            part.eval()
            part.requires_grad_(False)
    else:  # joint: every BatchNorm frozen, statistics and affine parameters
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
                m.requires_grad_(False)
    return [p for p in model.parameters() if p.requires_grad]


@dataclass
class StepLoss:
    total: torch.Tensor
    parts: dict[str, torch.Tensor]  # named terms, for the log


def stage_loss(model: LateFusionNet, stage: str, image: torch.Tensor, alpha: torch.Tensor) -> StepLoss:
    """Forward ``image`` (pre-processed) through what ``stage`` needs and return its loss."""
    if stage == "segmentation":
        taps = model.encoder(image)
        fg, bg = model.fg_decoder(taps), model.bg_decoder(taps)
        seg = losses.segmentation_loss([torch.sigmoid(s) for s in fg.side_logits],
                                       [torch.sigmoid(s) for s in bg.side_logits], alpha)
        return StepLoss(seg.total, {"L_F": seg.fg, "L_B": seg.bg})
    if stage == "fusion":
        with torch.no_grad():
            taps = model.encoder(image)
            fg, bg = model.fg_decoder(taps), model.bg_decoder(taps)
        beta = torch.sigmoid(model.fusion(fg.feature, bg.feature, image))
        pred = blend(beta, torch.sigmoid(fg.logits), torch.sigmoid(bg.logits))
        lu = losses.fusion_loss(pred, alpha)
        return StepLoss(lu, {"L_u": lu})
    if stage == "joint":
        out = model(image)
        j = losses.joint_loss(out.alpha, out.fg_sides, out.bg_sides, alpha)
        return StepLoss(j.total, {"L_u": j.fusion, "L_F+L_B": j.segmentation, "L_s": j.softness})
    raise ValueError(f"unknown stage {stage!r}")
