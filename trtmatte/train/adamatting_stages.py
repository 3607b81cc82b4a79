"""How AdaMatting trains: one end-to-end stage with the multi-task loss (trtmatte.train.
adamatting_losses). The paper trains the network as a whole; trtmatte keeps the cyclic-LR
machinery of Late Fusion's trainer with a flat schedule (base = peak = --lr) unless asked otherwise.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models.trimap import one_hot
from . import adamatting_losses as losses
from .stages import StepLoss

STAGES = ("multitask",)
PAPER_EPOCHS = {"multitask": 1}  # one stage: it gets the whole --minutes budget
DEFAULT_STEPS = (2000,)
BAND_RANGE = (1 / 64, 1 / 16)  # training trimaps' unknown margin, as fractions of the crop side


def configure(model: nn.Module, stage: str) -> list[nn.Parameter]:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
    return list(model.parameters())


def stage_lrs(stage: str, base_lr: float) -> tuple[float, float]:
    return base_lr, base_lr


def bands(size: int, count: int, step: int, seed: int = 0) -> list[int]:
    """Each sample's trimap band in px, drawn from BAND_RANGE of the crop side (reproducible by step)."""
    lo, hi = max(1, round(size * BAND_RANGE[0])), max(1, round(size * BAND_RANGE[1]))
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(lo, hi + 1, (count,), generator=generator).tolist()


def stage_loss(model: nn.Module, stage: str, image: torch.Tensor, alpha: torch.Tensor,
               weights: losses.TaskWeights, step: int = 0, seed: int = 0) -> StepLoss:
    """Forward ``image`` (pre-processed) with a trimap made from ``alpha`` and return the loss."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    trimap = losses.training_trimap(alpha, bands(alpha.shape[-1], alpha.shape[0], step, seed))
    out = model(image, one_hot(trimap).to(image.dtype))
    loss = losses.multitask_loss(weights, out.trimap_logits, out.alpha, alpha, trimap)
    return StepLoss(loss.total, {"L_T": loss.trimap, "L_alpha": loss.alpha,
                                 "sigma_T": loss.sigmas[0], "sigma_alpha": loss.sigmas[1]})
