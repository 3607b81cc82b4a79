"""The Late Fusion CNN (Zhong et al., "A Late Fusion CNN for Digital Matting", CVPR 2019).

One DenseNet encoder, two identical decoders (foreground, background) with FPN side outputs,
and a full-resolution fusion net predicting the blend weight beta:

    alpha = beta * F + (1 - beta) * (1 - B)

Layer widths, BatchNorm eps and the skip wiring follow the authors' Keras code as summarised in
docs/design.md. The module takes the *pre-processed* image (mean-subtracted RGB, NCHW float,
H and W multiples of 32); :mod:`trtmatte.models.matting_pipeline` wraps it with pre/post-processing.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from . import densenet
from .densenet import DenseNetEncoder
from .registry import ModelConfig, register, register_family


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    # Keras UpSampling2D default: nearest neighbour.
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, kernel: int, bias: bool, eps: float):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=bias)
        self.bn = nn.BatchNorm2d(out_ch, eps=eps)
        self.relu = nn.ReLU(inplace=True)


class SideBlock(nn.Module):
    """One FPN level: optional 1x1 lateral, add the top-down path, 3x3 conv, 1x1 -> side logit."""

    def __init__(self, in_ch: int, width: int):
        super().__init__()
        # The authors only add the lateral 1x1 where the block output is not already `width` wide.
        self.conv1 = nn.Conv2d(in_ch, width, 1) if in_ch != width else None
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.conv3 = nn.Conv2d(width, 1, 1)

    def forward(self, x: torch.Tensor, top_down: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.conv1 is not None:
            x = self.conv1(x)
        feature = self.conv2(x + top_down)
        return feature, self.conv3(feature)


class DecoderOutput(NamedTuple):
    logits: torch.Tensor  # full-resolution side_0 logit (F or B before the sigmoid)
    feature: torch.Tensor  # full-resolution side_0_conv2 feature, input to the fusion net
    side_logits: tuple[torch.Tensor, ...]  # strides 8, 4, 2, 1


class Decoder(nn.Module):
    """Five nearest-upsample + concat-skip + 1x1 ConvBNReLU blocks, then the FPN side path."""

    def __init__(self, tap_channels: Sequence[int], width: int, eps: float,
                 block_widths: Sequence[int] | None = None):
        super().__init__()
        r1, r2, r3, r4, bottleneck = tap_channels
        # Output widths as the authors built them: the skip's width for deconv5..3, `width` after.
        # ``block_widths`` narrows deconv5..3 (the demo variant); None keeps the paper's.
        w5, w4, w3 = block_widths if block_widths is not None else (r4, r3, r2)
        self.deconv5 = ConvBNReLU(bottleneck + r4, w5, 1, False, eps)
        self.deconv4 = ConvBNReLU(w5 + r3, w4, 1, False, eps)
        self.deconv3 = ConvBNReLU(w4 + r2, w3, 1, False, eps)
        self.deconv2 = ConvBNReLU(w3 + r1, width, 1, False, eps)
        self.deconv1 = ConvBNReLU(width, width, 1, False, eps)
        self.up4_conv = nn.Conv2d(w5, width, 1)
        self.side3 = SideBlock(w4, width)
        self.side2 = SideBlock(w3, width)
        self.side1 = SideBlock(width, width)
        self.side0 = SideBlock(width, width)

    def forward(self, taps: Sequence[torch.Tensor]) -> DecoderOutput:
        r1, r2, r3, r4, bottleneck = taps
        d5 = self.deconv5(torch.cat([upsample2x(bottleneck), r4], 1))
        d4 = self.deconv4(torch.cat([upsample2x(d5), r3], 1))
        d3 = self.deconv3(torch.cat([upsample2x(d4), r2], 1))
        d2 = self.deconv2(torch.cat([upsample2x(d3), r1], 1))
        d1 = self.deconv1(upsample2x(d2))

        path = upsample2x(torch.relu(self.up4_conv(d5)))
        sides = []
        for block, lateral in ((self.side3, d4), (self.side2, d3), (self.side1, d2), (self.side0, d1)):
            feature, logit = block(lateral, path)
            sides.append(logit)
            if block is not self.side0:
                path = upsample2x(feature)
        return DecoderOutput(sides[-1], feature, tuple(sides))


class FusionNet(nn.Module):
    """Full-resolution 3x3 conv stack on [FG feature, BG feature, conv(RGB)] -> beta logit."""

    def __init__(self, decoder_width: int, rgb_width: int, widths: Sequence[int], eps: float):
        super().__init__()
        self.conv_rgb = nn.Conv2d(3, rgb_width, 3, padding=1)
        self.bn_rgb = nn.BatchNorm2d(rgb_width, eps=eps)  # no ReLU after it (authors' code)
        layers = []
        in_ch = 2 * decoder_width + rgb_width
        for w in widths:
            layers.append(ConvBNReLU(in_ch, w, 3, True, eps))
            in_ch = w
        self.convs = nn.Sequential(*layers)
        self.conv_output = nn.Conv2d(in_ch, 1, 1)

    def forward(self, fg_feature: torch.Tensor, bg_feature: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        rgb = self.bn_rgb(self.conv_rgb(image))
        return self.conv_output(self.convs(torch.cat([fg_feature, bg_feature, rgb], 1)))


def blend(beta: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
    """Eq. 2 of the paper. A convex mix of probabilities, so no clamp is needed."""
    return beta * fg + (1.0 - beta) * (1.0 - bg)


class LateFusionOutput(NamedTuple):
    alpha: torch.Tensor
    fg: torch.Tensor  # foreground probability F
    bg: torch.Tensor  # background probability B
    beta: torch.Tensor  # blend weight
    fg_sides: tuple[torch.Tensor, ...] = ()  # training only: side probabilities at strides 8, 4, 2, 1
    bg_sides: tuple[torch.Tensor, ...] = ()


class LateFusionNet(nn.Module):
    """Input: mean-subtracted RGB, NCHW float, H and W multiples of 32. Output: LateFusionOutput."""

    def __init__(
        self,
        encoder: DenseNetEncoder,
        decoder_width: int = 128,
        rgb_width: int = 128,
        fusion_widths: Sequence[int] = (256, 128, 128, 64, 256),
        decoder_eps: float = 1.001e-5,
        fusion_eps: float = 1e-3,
        decoder_block_widths: Sequence[int] | None = None,
    ):
        super().__init__()
        self.encoder = encoder
        self.fg_decoder = Decoder(encoder.tap_channels, decoder_width, decoder_eps, decoder_block_widths)
        self.bg_decoder = Decoder(encoder.tap_channels, decoder_width, decoder_eps, decoder_block_widths)
        self.fusion = FusionNet(decoder_width, rgb_width, fusion_widths, fusion_eps)

    def logit_layers(self) -> list[nn.Conv2d]:
        """The convs whose outputs become F, B and beta (BN recalibration rescales them)."""
        return [self.fg_decoder.side0.conv3, self.bg_decoder.side0.conv3, self.fusion.conv_output]

    def forward(self, image: torch.Tensor) -> LateFusionOutput:
        taps = self.encoder(image)
        fg_out = self.fg_decoder(taps)
        bg_out = self.bg_decoder(taps)
        fg = torch.sigmoid(fg_out.logits)
        bg = torch.sigmoid(bg_out.logits)
        beta = torch.sigmoid(self.fusion(fg_out.feature, bg_out.feature, image))
        alpha = blend(beta, fg, bg)
        if not self.training:
            return LateFusionOutput(alpha, fg, bg, beta)
        return LateFusionOutput(
            alpha, fg, bg, beta,
            tuple(torch.sigmoid(s) for s in fg_out.side_logits),
            tuple(torch.sigmoid(s) for s in bg_out.side_logits),
        )


def count_parameters(model: nn.Module) -> int:
    """Learnable parameters (BatchNorm running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ------------------------------------------------------------------ the family's variants
ENCODERS: dict[str, Callable[[float], DenseNetEncoder]] = {
    "densenet201": densenet.densenet201_encoder,
    "densenet121": densenet.densenet121_encoder,
}


@register_family("late_fusion")
def build_late_fusion(cfg: ModelConfig) -> LateFusionNet:
    return LateFusionNet(
        ENCODERS[cfg.encoder](cfg.decoder_eps),
        decoder_width=cfg.decoder_width,
        rgb_width=cfg.rgb_width,
        fusion_widths=cfg.fusion_widths,
        decoder_eps=cfg.decoder_eps,
        fusion_eps=cfg.fusion_eps,
        decoder_block_widths=cfg.decoder_block_widths,
    )


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
