"""What the trainer needs from a model family: its stages, their steps and learning rates, what
trains in each, the loss, and any trainable parameters of the loss itself (AdaMatting's task
weights). ``trtmatte train`` looks the recipe up by the variant's family.

Each family registers its recipe from its own training file (train/late_fusion_training.py,
train/adamatting_training.py; train/__init__.py imports them), as model families register their
variants (models/registry.py): this module names no family. What every family shares lives here:
the step's loss record and the cyclical learning rate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..errors import TrtmatteError


@dataclass
class StepLoss:
    total: torch.Tensor
    parts: dict[str, torch.Tensor]  # named terms, for the log


@dataclass(frozen=True)
class Recipe:
    family: str
    stages: tuple[str, ...]
    paper_epochs: dict  # stage -> epochs in the paper: how a --minutes budget is shared
    default_steps: tuple[int, ...]
    configure: Callable[[nn.Module, str], list]  # sets train/eval and requires_grad; the parameters to optimise
    stage_lrs: Callable[[str, float], tuple[float, float]]  # (base, peak) of the cyclic LR
    # (model, stage, image, alpha, loss module, global step, seed) -> StepLoss
    stage_loss: Callable[..., StepLoss]
    loss_module: Callable[[str], nn.Module | None]  # trainable loss parameters, from --task-weights


_RECIPES: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    if recipe.family in _RECIPES:
        raise ValueError(f"training recipe of {recipe.family!r} registered twice")
    _RECIPES[recipe.family] = recipe
    return recipe


def recipe_for(family: str) -> Recipe:
    try:
        return _RECIPES[family]
    except KeyError:
        raise TrtmatteError(f"model family {family!r} has no training recipe") from None


def cyclic_lr(step: int, base: float, peak: float, half_cycle: int) -> float:
    """Triangular cyclical LR (Smith, WACV 2017): ``base`` at step 0, ``peak`` at ``half_cycle``,
    ``base`` again at ``2 * half_cycle``, and so on."""
    cycle = math.floor(1 + step / (2 * half_cycle))
    x = abs(step / half_cycle - 2 * cycle + 1)
    return base + (peak - base) * max(0.0, 1.0 - x)


def loss_parameters(module: nn.Module | None) -> list[torch.nn.Parameter]:
    return [] if module is None else [p for p in module.parameters() if p.requires_grad]
