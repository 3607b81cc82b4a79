"""The Late Fusion paper's training losses (Zhong et al., CVPR 2019, Sec. 3.2-3.4; docs/design.md).

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
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F

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
