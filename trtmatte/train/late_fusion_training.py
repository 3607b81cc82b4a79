"""Late Fusion's training, in one file: the paper's losses and its three stages (Zhong et al., CVPR
2019, Sec. 3.2-3.4; docs/design.md). Named ``late_fusion_training`` because module names are unique
in trtmatte/ (``models/late_fusion.py`` is the network). The trainer finds it through the recipe
registered at the bottom (train/recipes.py).

Losses
------
The Late Fusion paper's training losses (Zhong et al., CVPR 2019, Sec. 3.2-3.4; docs/design.md).

Notation: ``a`` is the ground-truth alpha in [0, 1] (N x 1 x H x W), ``p`` a predicted probability.
Solid pixels have a in {0, 1}; the transition is 0 < a < 1 (the dataset quantises alpha to 8-bit
levels, so 0 and 1 are exact).

* Eq. 4  L_d: |p - a| in the transition, (p - a)^2 on solid pixels.
* Eq. 5  L_g: |dx p - dx a| + |dy p - dy a| (forward differences).
* Eq. 6  CE:  w * BCE(p, a_hat), a_hat = [a > 0.05], w = 1 on solid pixels, 0.5 in the transition.
* Eq. 7  L_F = CE + L_d + L_g on the foreground probability; L_B is the same on the background
         probability with a -> 1 - a (so its CE target is [1 - a > 0.05]).
         Imposed on every decoder block (side outputs at strides 8, 4, 2, 1, upsampled
         bilinearly to full size as the authors do); the stride-1 side output *is* F (or B).
* Eq. 8  L_u = w * |beta F + (1 - beta)(1 - B) - a|, w = 1 in the transition, 0.1 elsewhere.
* Eq. 9  L_J = L_u + 0.5 (L_F + L_B) + 0.01 L_s.
* Eq. 10 L_s = alpha^gamma + (1 - alpha)^gamma on the *predicted* alpha, gamma = 0.9 (penalises
         soft pixels; its minimum, 1, is at alpha in {0, 1}).

The paper writes each loss as a sum over pixels; here each per-pixel term is averaged over the
pixels instead, so the numbers do not grow with the crop size. Every term is normalised the same
way, so the paper's relative weights (1 / 0.5, 1 / 0.1, 0.5, 0.01) are unchanged.

Losses are computed in float32 even under autocast (BCE on half-precision probabilities would
saturate), from probabilities, as the authors' Keras code does.

Stages
------
The paper's three training stages (Sec. 3.4): what trains, what is frozen, which loss, which LR.

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

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..models.late_fusion import LateFusionNet, blend
from .recipes import Recipe, StepLoss, register_recipe


CE_THRESHOLD = 0.05  # a_hat = [a > 0.05]
CE_TRANSITION_WEIGHT = 0.5
FUSION_SOLID_WEIGHT = 0.1
JOINT_SEGMENTATION_WEIGHT = 0.5  # w1 of Eq. 9
JOINT_SOFTNESS_WEIGHT = 0.01  # w2 of Eq. 9
SOFTNESS_GAMMA = 0.9
_EPS = 1e-6  # keeps log() finite and alpha^0.9's derivative bounded at 0


def transition(alpha: torch.Tensor) -> torch.Tensor:
    """Bool mask of the transition region, 0 < alpha < 1."""
    return (alpha > 0) & (alpha < 1)


def cross_entropy(prob: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 6, averaged: weighted BCE against the binarised target alpha > 0.05."""
    prob = prob.float().clamp(_EPS, 1 - _EPS)
    target = (alpha > CE_THRESHOLD).float()
    weight = torch.where(transition(alpha), CE_TRANSITION_WEIGHT, 1.0)
    ce = -(target * torch.log(prob) + (1 - target) * torch.log(1 - prob))
    return (weight * ce).mean()


def difference(prob: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 4, averaged: L1 in the transition, L2 on solid pixels."""
    diff = prob.float() - alpha
    return torch.where(transition(alpha), diff.abs(), diff * diff).mean()


def gradient(prob: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 5, averaged: L1 between the x and y forward differences of prediction and target."""
    prob = prob.float()
    dx = (prob[..., :, 1:] - prob[..., :, :-1]) - (alpha[..., :, 1:] - alpha[..., :, :-1])
    dy = (prob[..., 1:, :] - prob[..., :-1, :]) - (alpha[..., 1:, :] - alpha[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


class BranchLoss(NamedTuple):
    total: torch.Tensor
    ce: torch.Tensor
    difference: torch.Tensor
    gradient: torch.Tensor


def branch_loss(prob: torch.Tensor, alpha: torch.Tensor) -> BranchLoss:
    """Eq. 7: L_F for a foreground probability; pass ``1 - alpha`` for L_B."""
    ce, d, g = cross_entropy(prob, alpha), difference(prob, alpha), gradient(prob, alpha)
    return BranchLoss(ce + d + g, ce, d, g)


def to_full_size(prob: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A side output upsampled bilinearly to the target's size (identity at stride 1)."""
    if tuple(prob.shape[-2:]) == tuple(size):
        return prob
    return F.interpolate(prob.float(), size=size, mode="bilinear", align_corners=False)


def side_losses(sides: Sequence[torch.Tensor], alpha: torch.Tensor) -> list[torch.Tensor]:
    """L_F (or L_B, given 1 - alpha) of each decoder block's side output, coarsest first."""
    size = tuple(alpha.shape[-2:])
    return [branch_loss(to_full_size(s, size), alpha).total for s in sides]


class SegmentationLoss(NamedTuple):
    total: torch.Tensor  # L_F + L_B, each summed over the side outputs
    fg: torch.Tensor
    bg: torch.Tensor
    fg_sides: tuple[torch.Tensor, ...]
    bg_sides: tuple[torch.Tensor, ...]


def segmentation_loss(fg_sides: Sequence[torch.Tensor], bg_sides: Sequence[torch.Tensor],
                      alpha: torch.Tensor) -> SegmentationLoss:
    """Stage 1: L_F + L_B imposed on every decoder block. The last side output is F (B) itself,
    so Eq. 7 on the final probability is counted once, as the stride-1 side loss."""
    if not fg_sides or not bg_sides:
        raise ValueError("side outputs are empty: run the model in training mode (model.train())")
    fg = side_losses(fg_sides, alpha)
    bg = side_losses(bg_sides, 1 - alpha)
    fg_total, bg_total = torch.stack(fg).sum(), torch.stack(bg).sum()
    return SegmentationLoss(fg_total + bg_total, fg_total, bg_total, tuple(fg), tuple(bg))


def fusion_loss(pred_alpha: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. 8, averaged: |alpha_pred - alpha| weighted 1 in the transition, 0.1 elsewhere.
    ``pred_alpha`` is beta F + (1 - beta)(1 - B), i.e. the model's alpha output."""
    weight = torch.where(transition(alpha), 1.0, FUSION_SOLID_WEIGHT)
    return (weight * (pred_alpha.float() - alpha).abs()).mean()


def softness_loss(pred_alpha: torch.Tensor, gamma: float = SOFTNESS_GAMMA) -> torch.Tensor:
    """Eq. 10, averaged: alpha^gamma + (1 - alpha)^gamma of the predicted alpha."""
    a = pred_alpha.float().clamp(_EPS, 1 - _EPS)
    return (a.pow(gamma) + (1 - a).pow(gamma)).mean()


class JointLoss(NamedTuple):
    total: torch.Tensor
    fusion: torch.Tensor
    segmentation: torch.Tensor
    softness: torch.Tensor


def joint_loss(pred_alpha: torch.Tensor, fg_sides: Sequence[torch.Tensor], bg_sides: Sequence[torch.Tensor],
               alpha: torch.Tensor) -> JointLoss:
    """Eq. 9: L_u + 0.5 (L_F + L_B) + 0.01 L_s, with L_F + L_B the segmentation network's loss
    (side losses included: "the loss of the segmentation network", Sec. 3.4)."""
    lu = fusion_loss(pred_alpha, alpha)
    seg = segmentation_loss(fg_sides, bg_sides, alpha).total
    ls = softness_loss(pred_alpha)
    total = lu + JOINT_SEGMENTATION_WEIGHT * seg + JOINT_SOFTNESS_WEIGHT * ls
    return JointLoss(total, lu, seg, ls)


# ------------------------------------------------------------------ stages
STAGES = ("segmentation", "fusion", "joint")
PAPER_EPOCHS = {"segmentation": 15, "fusion": 4, "joint": 7}
BASE_LR = 5e-4
PEAK_LR = {"segmentation": 1.5e-3, "fusion": 1.5e-3, "joint": 1.0e-3}


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


def stage_loss(model: LateFusionNet, stage: str, image: torch.Tensor, alpha: torch.Tensor) -> StepLoss:
    """Forward ``image`` (pre-processed) through what ``stage`` needs and return its loss."""
    if stage == "segmentation":
        taps = model.encoder(image)
        fg, bg = model.fg_decoder(taps), model.bg_decoder(taps)
        seg = segmentation_loss([torch.sigmoid(s) for s in fg.side_logits],
                                       [torch.sigmoid(s) for s in bg.side_logits], alpha)
        return StepLoss(seg.total, {"L_F": seg.fg, "L_B": seg.bg})
    if stage == "fusion":
        with torch.no_grad():
            taps = model.encoder(image)
            fg, bg = model.fg_decoder(taps), model.bg_decoder(taps)
        beta = torch.sigmoid(model.fusion(fg.feature, bg.feature, image))
        pred = blend(beta, torch.sigmoid(fg.logits), torch.sigmoid(bg.logits))
        lu = fusion_loss(pred, alpha)
        return StepLoss(lu, {"L_u": lu})
    if stage == "joint":
        out = model(image)
        j = joint_loss(out.alpha, out.fg_sides, out.bg_sides, alpha)
        return StepLoss(j.total, {"L_u": j.fusion, "L_F+L_B": j.segmentation, "L_s": j.softness})
    raise ValueError(f"unknown stage {stage!r}")


def _recipe_loss(model, stage, image, alpha, loss_module, step, seed) -> StepLoss:
    return stage_loss(model, stage, image, alpha)


register_recipe(Recipe("late_fusion", STAGES, PAPER_EPOCHS, (1500, 400, 700), configure, stage_lrs, _recipe_loss,
                       lambda mode: None))
