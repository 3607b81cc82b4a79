"""DenseNet feature extractor with torchvision's parameter names.

Written here instead of importing torchvision (its wheel pins another torch), but laid out
module-for-module like ``torchvision.models.densenet`` so a user's ImageNet ``densenet201``
state_dict loads with ``strict=True`` after dropping the classifier.

Unlike torchvision's classifier, ``forward_taps`` returns the skip features the Late Fusion
decoders need and applies no ReLU after ``norm5`` (the authors' Keras encoder ends at ``bn``).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn


class DenseLayer(nn.Module):
    """BN-ReLU-Conv1x1 (bottleneck) then BN-ReLU-Conv3x3 producing ``growth`` new channels."""

    def __init__(self, in_ch: int, growth: int, bn_size: int, eps: float):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(in_ch, eps=eps)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(in_ch, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth, eps=eps)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n_layers: int, in_ch: int, growth: int, bn_size: int, eps: float):
        super().__init__()
        for i in range(n_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(in_ch + i * growth, growth, bn_size, eps))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One concat per layer, like Keras' DenseNet; keeps the exported graph a plain chain.
        for layer in self.values():
            x = torch.cat([x, layer(x)], 1)
        return x


class Transition(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, eps: float):
        super().__init__()
        self.norm = nn.BatchNorm2d(in_ch, eps=eps)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(in_ch, out_ch, 1, bias=False)
        self.pool = nn.AvgPool2d(2, stride=2)


class EncoderTaps(NamedTuple):
    """Skip features at strides 2, 4, 8, 16 and the stride-32 bottleneck."""

    r1: torch.Tensor
    r2: torch.Tensor
    r3: torch.Tensor
    r4: torch.Tensor
    bottleneck: torch.Tensor


class DenseNetEncoder(nn.Module):
    """``features.*`` of torchvision's DenseNet; ``forward`` returns :class:`EncoderTaps`."""

    def __init__(
        self,
        block_config: tuple[int, ...] = (6, 12, 48, 32),
        growth: int = 32,
        init_features: int = 64,
        bn_size: int = 4,
        eps: float = 1.001e-5,
    ):
        super().__init__()
        feats: OrderedDict[str, nn.Module] = OrderedDict(
            conv0=nn.Conv2d(3, init_features, 7, stride=2, padding=3, bias=False),
            norm0=nn.BatchNorm2d(init_features, eps=eps),
            relu0=nn.ReLU(inplace=True),
            # Keras zero-pads then max-pools; after a ReLU, zero padding and -inf padding agree.
            pool0=nn.MaxPool2d(3, stride=2, padding=1),
        )
        ch = init_features
        self.tap_channels: list[int] = [init_features]
        for i, n in enumerate(block_config):
            feats[f"denseblock{i + 1}"] = DenseBlock(n, ch, growth, bn_size, eps)
            ch += n * growth
            if i != len(block_config) - 1:
                self.tap_channels.append(ch)
                feats[f"transition{i + 1}"] = Transition(ch, ch // 2, eps)
                ch //= 2
        feats["norm5"] = nn.BatchNorm2d(ch, eps=eps)
        self.tap_channels.append(ch)
        self.features = nn.Sequential(feats)

    def forward(self, x: torch.Tensor) -> EncoderTaps:
        f = self.features
        r1 = f.relu0(f.norm0(f.conv0(x)))
        x = f.pool0(r1)
        taps = [r1]
        n_blocks = sum(1 for name in f._modules if name.startswith("denseblock"))
        for i in range(1, n_blocks + 1):
            x = f._modules[f"denseblock{i}"](x)
            if i != n_blocks:
                taps.append(x)  # block output right before the transition's average pooling
                x = f._modules[f"transition{i}"](x)
        taps.append(f.norm5(x))  # no ReLU: the authors' encoder ends at the final BN
        return EncoderTaps(*taps)


def densenet201_encoder(eps: float = 1.001e-5) -> DenseNetEncoder:
    return DenseNetEncoder((6, 12, 48, 32), growth=32, init_features=64, eps=eps)


def densenet121_encoder(eps: float = 1.001e-5) -> DenseNetEncoder:
    return DenseNetEncoder((6, 12, 24, 16), growth=32, init_features=64, eps=eps)


