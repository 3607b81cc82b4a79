"""AdaMatting's training, in one file: its losses and its one multi-task stage (the trainer finds
it through the recipe registered at the bottom, train/recipes.py).

Losses
------
AdaMatting's training losses (Cai et al., "Disentangled Image Matting", ICCV 2019; the readings
are listed in docs/adamatting.md).

* Trimap adaptation L_T: pixel-wise cross-entropy of the T-decoder's three classes against the
  ground-truth trimap (background where alpha = 0, foreground where alpha = 1, unknown where
  0 < alpha < 1), over the whole image: the adaptation may correct the input trimap anywhere.
* Alpha estimation L_alpha: |alpha_pred - alpha| averaged over the input trimap's unknown region
  (the known regions are imposed in the exported graph), on the propagation unit's final alpha.
* Multi-task weighting (the paper's Eq. 4, after Kendall et al., CVPR 2018): with learned
  s_i = log sigma_i^2,  L = L_T / (2 sigma_1^2) + L_alpha / (2 sigma_2^2) + log sigma_1 + log sigma_2
  = sum_i (exp(-s_i) L_i + s_i) / 2. The supplementary's Table 2 compares this ("AdaMatting-D",
  dynamic) with the sigmas it converged to, held fixed (sigma_1 = 0.0995, sigma_2 = 0.0878,
  "AdaMatting-F"), and finds the learned weights better; both are offered.

Training trimaps are made from the ground-truth alpha on the fly, as Deep Image Matting does: both
known regions eroded by a band drawn per sample (so the unknown region covers the transition and
a random margin around it).

Stage
-----
How AdaMatting trains: one end-to-end stage with the multi-task loss (the losses above). The paper
trains the network as a whole; trtmatte keeps the trainer's cyclic-LR machinery with a flat
schedule (base = peak = --lr) unless asked otherwise.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..models.trimap_ops import erode, one_hot
from ..trimap import BACKGROUND, FOREGROUND, UNKNOWN
from .recipes import Recipe, StepLoss, register_recipe


PAPER_SIGMAS = (0.0995, 0.0878)  # (trimap, alpha): where the supplementary's Fig. 2 converged
TASK_WEIGHTS = ("learned", "fixed")
_BG, _UNKNOWN, _FG = 0, 1, 2  # class indices of the T-decoder's channels


def trimap_classes(alpha: torch.Tensor) -> torch.Tensor:
    """Ground-truth trimap classes [N, H, W] (int64) of alpha [N, 1, H, W]."""
    a = alpha[:, 0]
    classes = torch.full_like(a, _UNKNOWN, dtype=torch.long)
    classes[a <= 0] = _BG
    classes[a >= 1] = _FG
    return classes


def training_trimap(alpha: torch.Tensor, bands: list[int]) -> torch.Tensor:
    """Trimap values [N, H, W] (float 0 / 128 / 255) of alpha [N, 1, H, W]: foreground (alpha = 1)
    and background (alpha = 0) each eroded by the sample's band in px."""
    rows = []
    for a, band in zip(alpha[:, 0], bands):
        fg = erode((a >= 1).to(torch.float32)[None], band)[0]
        bg = erode((a <= 0).to(torch.float32)[None], band)[0]
        rows.append(FOREGROUND * fg + UNKNOWN * (1.0 - fg - bg) + BACKGROUND * bg)
    return torch.stack(rows)


def trimap_loss(logits: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """L_T: cross-entropy of the T-decoder's logits [N, 3, H, W] against alpha's classes."""
    return F.cross_entropy(logits.float(), trimap_classes(alpha))


def alpha_loss(pred: torch.Tensor, alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """L_alpha: mean |pred - alpha| over the unknown region of ``trimap`` (values [N, H, W])."""
    unknown = (trimap == UNKNOWN).to(torch.float32)[:, None]
    return ((pred.float() - alpha).abs() * unknown).sum() / unknown.sum().clamp_min(1.0)


class TaskWeights(nn.Module):
    """The uncertainty weighting of the two tasks: s = (log sigma_T^2, log sigma_alpha^2), learned
    (initialised at sigma = 1) or fixed at the paper's converged values."""

    def __init__(self, mode: str = "learned"):
        super().__init__()
        if mode not in TASK_WEIGHTS:
            raise ValueError(f"task weights must be one of {TASK_WEIGHTS}, got {mode!r}")
        self.mode = mode
        if mode == "learned":
            self.log_var = nn.Parameter(torch.zeros(2))
        else:
            self.register_buffer("log_var", torch.tensor([2 * math.log(s) for s in PAPER_SIGMAS]))

    def forward(self, l_trimap: torch.Tensor, l_alpha: torch.Tensor) -> torch.Tensor:
        s = self.log_var
        return 0.5 * (torch.exp(-s[0]) * l_trimap + s[0]) + 0.5 * (torch.exp(-s[1]) * l_alpha + s[1])

    @property
    def sigmas(self) -> torch.Tensor:
        return torch.exp(0.5 * self.log_var.detach())


class MultiTaskLoss(NamedTuple):
    total: torch.Tensor
    trimap: torch.Tensor
    alpha: torch.Tensor
    sigmas: torch.Tensor  # (sigma_T, sigma_alpha), detached


def multitask_loss(weights: TaskWeights, trimap_logits: torch.Tensor, pred_alpha: torch.Tensor,
                   alpha: torch.Tensor, trimap: torch.Tensor) -> MultiTaskLoss:
    lt, la = trimap_loss(trimap_logits, alpha), alpha_loss(pred_alpha, alpha, trimap)
    return MultiTaskLoss(weights(lt, la), lt, la, weights.sigmas)


# ------------------------------------------------------------------ the stage
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
               weights: TaskWeights, step: int = 0, seed: int = 0) -> StepLoss:
    """Forward ``image`` (pre-processed) with a trimap made from ``alpha`` and return the loss."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}")
    trimap = training_trimap(alpha, bands(alpha.shape[-1], alpha.shape[0], step, seed))
    out = model(image, one_hot(trimap).to(image.dtype))
    loss = multitask_loss(weights, out.trimap_logits, out.alpha, alpha, trimap)
    return StepLoss(loss.total, {"L_T": loss.trimap, "L_alpha": loss.alpha,
                                 "sigma_T": loss.sigmas[0], "sigma_alpha": loss.sigmas[1]})


def _recipe_loss(model, stage, image, alpha, loss_module, step, seed) -> StepLoss:
    return stage_loss(model, stage, image, alpha, loss_module, step, seed)


register_recipe(Recipe("adamatting", STAGES, PAPER_EPOCHS, DEFAULT_STEPS, configure, stage_lrs, _recipe_loss,
                       TaskWeights))
