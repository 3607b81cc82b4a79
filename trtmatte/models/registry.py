"""Model registry (timm style): a name -> config -> constructor.

Each variant carries everything a deployment needs besides weights: the pre-processing
contract (mean, size rule) and the architecture hyper-parameters. Checkpoints and exported
graphs record the variant name, so a file always says which config built it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ..errors import TrtmatteError
from . import densenet
from .late_fusion import LateFusionNet

# The authors' mean pixel (RGB order), subtracted from 0..255 values; no /255, no std.
AUTHORS_MEAN_RGB = (127.156207, 115.917443, 106.031127)


@dataclass(frozen=True)
class Preprocessing:
    """How raw RGB pixels become network input, and how alpha returns to the input size."""

    mean: tuple[float, float, float] = AUTHORS_MEAN_RGB
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    size_multiple: int = 32  # H and W each rounded *up* to this (encoder stride)
    max_side: int = 800  # longer side capped before rounding (the authors' memory limit)
    resize: str = "bilinear-antialiased"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class ModelConfig:
    name: str
    family: str
    description: str
    encoder: str = "densenet201"
    decoder_width: int = 128
    rgb_width: int = 128
    fusion_widths: tuple[int, ...] = (256, 128, 128, 64, 256)
    # Output widths of the decoders' deconv5, deconv4, deconv3; None = the skip widths (the paper's).
    decoder_block_widths: tuple[int, int, int] | None = None
    decoder_eps: float = 1.001e-5  # Keras DenseNet's BatchNorm epsilon
    fusion_eps: float = 1e-3  # Keras' default BatchNorm epsilon
    preprocessing: Preprocessing = field(default_factory=Preprocessing)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_ENCODERS: dict[str, Callable[[float], densenet.DenseNetEncoder]] = {
    "densenet201": densenet.densenet201_encoder,
    "densenet121": densenet.densenet121_encoder,
}

_REGISTRY: dict[str, ModelConfig] = {}


def register(config: ModelConfig) -> ModelConfig:
    if config.name in _REGISTRY:
        raise ValueError(f"model {config.name!r} registered twice")
    _REGISTRY[config.name] = config
    return config


register(ModelConfig(
    name="late_fusion",
    family="late_fusion",
    description="Late Fusion CNN exactly as the paper (Zhong et al., CVPR 2019): DenseNet-201, "
                "two 128-wide decoders, 256-128-128-64-256 fusion net",
))
register(ModelConfig(
    name="late_fusion_lite",
    family="late_fusion",
    description="Same code, smaller: DenseNet-121 encoder, decoders 512-256-128-64 wide, 64-32-32-16-64 "
                "fusion net; the bundled demo model (about 20 MB in FP16)",
    encoder="densenet121",
    decoder_width=64,
    decoder_block_widths=(512, 256, 128),
    rgb_width=32,
    fusion_widths=(64, 32, 32, 16, 64),
))


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def get_config(name: str) -> ModelConfig:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise TrtmatteError(
            f"unknown model variant {name!r}: choose one of {', '.join(list_models())} (see `trtmatte models`)"
        ) from None


def create_model(name: str) -> nn.Module:
    """Build a variant with freshly initialised weights, in eval mode."""
    cfg = get_config(name)
    if cfg.family != "late_fusion":
        raise TrtmatteError(f"model family {cfg.family!r} has no constructor yet")
    model = LateFusionNet(
        _ENCODERS[cfg.encoder](cfg.decoder_eps),
        decoder_width=cfg.decoder_width,
        rgb_width=cfg.rgb_width,
        fusion_widths=cfg.fusion_widths,
        decoder_eps=cfg.decoder_eps,
        fusion_eps=cfg.fusion_eps,
        decoder_block_widths=cfg.decoder_block_widths,
    )
    return model.eval()
