"""torchvision DenseNet ImageNet weights -> trtmatte encoder (timm-style filter function).

torchvision's published ``densenet201-c1103571.pth`` predates its current module names: it spells
``denselayer1.norm.1.weight`` where the module now has ``denselayer1.norm1.weight`` (torchvision
remaps with a regex on load). Files saved from a model instance use the new names. Both load here,
as do DataParallel (``module.``) prefixes; the classifier is dropped (matting has no head).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ..errors import TrtmatteError
from .validate import check_state_dict

_OLD_STYLE = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")


def filter_torchvision_densenet(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Return the ``features.*`` entries with current torchvision names."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module."):]
        if key.startswith("classifier."):
            continue
        m = _OLD_STYLE.match(key)
        if m:
            key = m.group(1) + m.group(2)  # 'norm.1.weight' -> 'norm1.weight'
        out[key] = value
    return out


def read_torch_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise TrtmatteError(f"weights file {path} not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and tensor errors all mean "not a readable state_dict"
        raise TrtmatteError(f"cannot read {path} as a PyTorch state_dict ({type(exc).__name__}): "
                            "expected torchvision's densenet201 .pth file") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise TrtmatteError(f"{path} holds no state_dict of tensors: expected torchvision's densenet201 .pth file")
    return obj


def load_imagenet_encoder(encoder: nn.Module, path: str | Path) -> None:
    """Load a torchvision DenseNet ImageNet state_dict into ``encoder`` (strict)."""
    state = filter_torchvision_densenet(read_torch_file(path))
    expected = encoder.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:  # absent in pre-0.4 files
            state[key] = torch.zeros_like(value)
    check_state_dict(expected, state, str(path), "the DenseNet encoder",
                     "expected torchvision's densenet201 ImageNet weights")
    encoder.load_state_dict(state, strict=True)
