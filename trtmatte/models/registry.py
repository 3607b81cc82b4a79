"""Model registry (timm style): a name -> config -> constructor.

Each variant carries everything a deployment needs besides weights: the pre-processing
contract (mean, size rule) and the architecture hyper-parameters. Checkpoints and exported
graphs record the variant name, so a file always says which config built it.

Families register themselves, in their own files (timm's ``@register_model``): a family module
decorates its constructor with ``@register_family("name")`` and calls ``register(ModelConfig(...))``
for each of its variants (models/late_fusion.py, models/adamatting.py). This module never names a
family: adding a third one touches its own file and the import in models/__init__.py, which
imports every family so that the registry is complete whatever module is imported first.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

from ..contract.names import IMAGE, TRIMAP
from ..errors import TrtmatteError

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
    # longer side raised to at least this before rounding (0: none): smaller inputs are resized up
    # to the working sizes the model was trained at, and α comes back at the input's size. Set from
    # the training recipe (its crop) when a checkpoint is loaded (checkpoints/native.py).
    min_side: int = 0
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
    # Constructor arguments of families that take them as keywords (AdaMattingNet's).
    arch: dict = field(default_factory=dict)

    @property
    def needs_trimap(self) -> bool:
        return TRIMAP in self.inputs

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_REGISTRY: dict[str, ModelConfig] = {}
_FAMILIES: dict[str, Callable[[ModelConfig], nn.Module]] = {}


def register(config: ModelConfig) -> ModelConfig:
    """Add a variant (its family registers the constructor with ``register_family``)."""
    if config.name in _REGISTRY:
        raise ValueError(f"model {config.name!r} registered twice")
    _REGISTRY[config.name] = config
    return config


def register_family(family: str):
    """Decorator: ``build(config) -> nn.Module`` constructs every variant of ``family``."""
    def decorator(build: Callable[[ModelConfig], nn.Module]):
        if family in _FAMILIES:
            raise ValueError(f"model family {family!r} registered twice")
        _FAMILIES[family] = build
        return build
    return decorator


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
    build = _FAMILIES.get(cfg.family)
    if build is None:
        raise TrtmatteError(f"model family {cfg.family!r} has no constructor yet")
    return build(cfg).eval()
