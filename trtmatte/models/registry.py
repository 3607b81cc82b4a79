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

from ..contract.names import IMAGE, TRIMAP
from ..errors import TrtmatteError
from . import densenet
from .adamatting import AdaMattingNet
from .late_fusion import LateFusionNet

# The authors' mean pixel (RGB order), subtracted from 0..255 values; no /255, no std.
AUTHORS_MEAN_RGB = (127.156207, 115.917443, 106.031127)
# ImageNet's mean and std in 0..255 units (RGB): AdaMatting's normalisation (docs/adamatting.md).
IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)


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
    # The graph's inputs: ("image",) for trimap-free families, ("image", "trimap") for trimap-based ones.
    inputs: tuple[str, ...] = (IMAGE,)
    # Constructor arguments of families other than late_fusion (AdaMattingNet's keyword arguments).
    arch: dict = field(default_factory=dict)

    @property
    def needs_trimap(self) -> bool:
        return TRIMAP in self.inputs

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


ADAMATTING_PREPROCESSING = Preprocessing(mean=IMAGENET_MEAN_RGB, std=IMAGENET_STD_RGB)

register(ModelConfig(
    name="adamatting",
    family="adamatting",
    description="AdaMatting (Cai et al., ICCV 2019) from the supplementary's table: RGB + trimap, ResNet-style "
                "encoder (192/384/1024/1024 wide), two GC + sub-pixel decoders (alpha, adapted trimap), "
                "3-step ConvLSTM propagation unit (docs/adamatting.md)",
    encoder="resnet-table",  # Res-2..Res-5 as the supplementary's table lists them
    preprocessing=ADAMATTING_PREPROCESSING,
    inputs=(IMAGE, TRIMAP),
    arch={},  # AdaMattingNet's defaults are the table's reading
))
register(ModelConfig(
    name="adamatting_lite",
    family="adamatting",
    description="Same code, smaller: 32-wide 3x3 stem, two bottlenecks a stage (96/192/384/512 wide), decoders "
                "256-128-64-32-16, 16-wide propagation unit; for CPU tests and small GPUs",
    encoder="resnet-lite",
    preprocessing=ADAMATTING_PREPROCESSING,
    inputs=(IMAGE, TRIMAP),
    arch={"stem_width": 32, "stem_kernel": 3,
          "stages": ((32, 96, 2), (64, 192, 2), (128, 384, 2), (256, 512, 2)),
          "decoder_widths": (256, 128, 64, 32, 16), "propagation_width": 16},
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
    if cfg.family == "adamatting":
        return AdaMattingNet(**cfg.arch).eval()
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
