"""What the trainer needs from a model family: its stages, their steps and learning rates, what
trains in each, the loss, and any trainable parameters of the loss itself (AdaMatting's task
weights). ``trtmatte train`` looks the recipe up by the variant's family."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..errors import TrtmatteError
from . import adamatting_stages, stages
from .adamatting_losses import TaskWeights


@dataclass(frozen=True)
class Recipe:
    family: str
    stages: tuple[str, ...]
    paper_epochs: dict  # stage -> epochs in the paper: how a --minutes budget is shared
    default_steps: tuple[int, ...]
    configure: Callable[[nn.Module, str], list]  # sets train/eval and requires_grad; the parameters to optimise
    stage_lrs: Callable[[str, float], tuple[float, float]]  # (base, peak) of the cyclic LR
    # (model, stage, image, alpha, loss module, global step, seed) -> stages.StepLoss
    stage_loss: Callable[..., stages.StepLoss]
    loss_module: Callable[[str], nn.Module | None]  # trainable loss parameters, from --task-weights


def _late_fusion_loss(model, stage, image, alpha, loss_module, step, seed) -> stages.StepLoss:
    return stages.stage_loss(model, stage, image, alpha)


def _adamatting_loss(model, stage, image, alpha, loss_module, step, seed) -> stages.StepLoss:
    return adamatting_stages.stage_loss(model, stage, image, alpha, loss_module, step, seed)


RECIPES = {
    "late_fusion": Recipe("late_fusion", stages.STAGES, stages.PAPER_EPOCHS, (1500, 400, 700), stages.configure,
                          stages.stage_lrs, _late_fusion_loss, lambda mode: None),
    "adamatting": Recipe("adamatting", adamatting_stages.STAGES, adamatting_stages.PAPER_EPOCHS,
                         adamatting_stages.DEFAULT_STEPS, adamatting_stages.configure, adamatting_stages.stage_lrs,
                         _adamatting_loss, TaskWeights),
}


def recipe_for(family: str) -> Recipe:
    try:
        return RECIPES[family]
    except KeyError:
        raise TrtmatteError(f"model family {family!r} has no training recipe") from None


def loss_parameters(module: nn.Module | None) -> list[torch.nn.Parameter]:
    return [] if module is None else [p for p in module.parameters() if p.requires_grad]
