"""AdaMatting (Cai et al., "Disentangled Image Matting", ICCV 2019), built from the paper and its
supplementary architecture table; no official code or weights exist. Every reading of the table
trtmatte had to make is listed in docs/adamatting.md.

    RGB + one-hot trimap -> encoder (Conv1, 2x2 max pool, Res-2..Res-5 bottleneck stages)
      -> T-decoder: GC1..GC5 + sub-pixel 2x upsampling, 3x3 conv -> 3, softmax = adapted trimap
      -> A-decoder: the same, 3x3 conv -> 1, sigmoid = coarse alpha
      -> propagation unit (ConvLSTM), fed RGB, the adapted trimap and the current alpha,
         unrolled a fixed number of steps -> alpha

The module takes the *pre-processed* image (normalised RGB, NCHW, H and W multiples of 32) and the
one-hot trimap at the same size (``trtmatte.models.trimap_ops.one_hot``);
:mod:`trtmatte.models.matting_pipeline` wraps it with pre/post-processing.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch
from torch import nn

from ..contract.names import ALPHA_DECODER, IMAGE, TRIMAP, TRIMAP_ADAPTED
from .registry import IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, ModelConfig, Preprocessing, register, register_family

BN_EPS = 1e-5


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(out_ch, eps=BN_EPS), nn.ReLU(inplace=True))


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3, 1x1; stride on the 3x3), projection shortcut when the shape changes."""

    def __init__(self, in_ch: int, mid: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = conv_bn_relu(in_ch, mid, 1)
        self.conv2 = conv_bn_relu(mid, mid, 3, stride)
        self.conv3 = nn.Sequential(nn.Conv2d(mid, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch, eps=BN_EPS))
        self.shortcut = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_ch, eps=BN_EPS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(self.conv3(self.conv2(self.conv1(x))) + skip)


def res_stage(in_ch: int, mid: int, out_ch: int, blocks: int, stride: int = 2) -> nn.Sequential:
    return nn.Sequential(*(Bottleneck(in_ch if i == 0 else out_ch, mid, out_ch, stride if i == 0 else 1)
                           for i in range(blocks)))


class Encoder(nn.Module):
    """Conv1 (stride 1) + 2x2 max pool, then Res-2..Res-5, each halving the size.

    Returns the five shortcut taps, finest first: the pooled Conv1 output (stride 2), Res-2 (4),
    Res-3 (8), Res-4 (16), Res-5 (32)."""

    def __init__(self, in_ch: int, stem_width: int, stem_kernel: int,
                 stages: Sequence[tuple[int, int, int]]):
        super().__init__()
        self.conv1 = conv_bn_relu(in_ch, stem_width, stem_kernel)
        self.pool = nn.MaxPool2d(2, 2)
        layers, width = [], stem_width
        for mid, out_ch, blocks in stages:
            layers.append(res_stage(width, mid, out_ch, blocks))
            width = out_ch
        self.res = nn.ModuleList(layers)
        self.tap_channels = (stem_width, *(out for _, out, _ in stages))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = [self.pool(self.conv1(x))]
        for stage in self.res:
            taps.append(stage(taps[-1]))
        return taps


class GlobalConv(nn.Module):
    """Global convolution block (Peng et al., "Large Kernel Matters", CVPR 2017): k x 1 then 1 x k,
    plus 1 x k then k x 1, summed; then BatchNorm and ReLU."""

    def __init__(self, in_ch: int, out_ch: int, k: int):
        super().__init__()
        p = k // 2
        self.left = nn.Sequential(nn.Conv2d(in_ch, out_ch, (k, 1), padding=(p, 0), bias=False),
                                  nn.Conv2d(out_ch, out_ch, (1, k), padding=(0, p), bias=False))
        self.right = nn.Sequential(nn.Conv2d(in_ch, out_ch, (1, k), padding=(0, p), bias=False),
                                   nn.Conv2d(out_ch, out_ch, (k, 1), padding=(p, 0), bias=False))
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.left(x) + self.right(x)))


class SubPixelUp(nn.Module):
    """Sub-pixel 2x upsampling (Shi et al., CVPR 2016): 1x1 conv to 4x the channels, BatchNorm,
    ReLU, PixelShuffle(2)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = conv_bn_relu(channels, 4 * channels, 1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


class Decoder(nn.Module):
    """GC1..GC5, each followed by its sub-pixel upsampling, then the 3x3 output conv.

    GC1 reads the deepest tap; GC_i (i > 1) reads the upsampled stream concatenated with the
    shortcut tap of the same size. The output conv gives logits at the input size."""

    def __init__(self, tap_channels: Sequence[int], widths: Sequence[int], k: int, out_ch: int):
        super().__init__()
        taps = list(reversed(tap_channels))  # deepest first
        blocks, ups, stream = [], [], 0
        for tap, width in zip(taps, widths):
            blocks.append(GlobalConv(stream + tap, width, k))
            ups.append(SubPixelUp(width))
            stream = width
        self.gc = nn.ModuleList(blocks)
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(stream, out_ch, 3, padding=1)

    def forward(self, taps: Sequence[torch.Tensor]) -> torch.Tensor:
        x = None
        for gc, up, tap in zip(self.gc, self.up, reversed(taps)):
            x = up(gc(tap if x is None else torch.cat([x, tap], 1)))
        return self.head(x)


class ResBlock(nn.Module):
    """Two 3x3 convs with a ReLU between and an identity shortcut (no BatchNorm in the recurrence)."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class ConvLSTMCell(nn.Module):
    """Convolutional LSTM (Shi et al., NeurIPS 2015) without peepholes: the four gates from a conv
    of the input plus a conv of the hidden state. The first step starts from h = c = 0, so it skips
    the hidden conv and the forget gate: no zero tensor has to be made inside the graph."""

    def __init__(self, width: int, kernel: int = 3):
        super().__init__()
        self.conv_x = nn.Conv2d(width, 4 * width, kernel, padding=kernel // 2)
        self.conv_h = nn.Conv2d(width, 4 * width, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None):
        gates = self.conv_x(x) if state is None else self.conv_x(x) + self.conv_h(state[0])
        i, f, o, g = gates.chunk(4, dim=1)
        cell = torch.sigmoid(i) * torch.tanh(g)
        if state is not None:
            cell = cell + torch.sigmoid(f) * state[1]
        return torch.sigmoid(o) * torch.tanh(cell), cell


class PropagationUnit(nn.Module):
    """Refines alpha recurrently. Each step reads [RGB, adapted trimap (3 probabilities), alpha]:
    3x3 conv + ReLU, a residual block, the ConvLSTM cell, a residual block, 3x3 conv -> 1, sigmoid
    = the next alpha. The hidden state carries across steps; the loop is unrolled at export."""

    def __init__(self, width: int, steps: int):
        super().__init__()
        self.steps = steps
        self.inp = nn.Conv2d(3 + 3 + 1, width, 3, padding=1)
        self.res_in = ResBlock(width)
        self.lstm = ConvLSTMCell(width)
        self.res_out = ResBlock(width)
        self.out = nn.Conv2d(width, 1, 3, padding=1)

    def forward(self, rgb: torch.Tensor, trimap: torch.Tensor, alpha: torch.Tensor) -> list[torch.Tensor]:
        state = None
        alphas = []
        for _ in range(self.steps):
            x = self.res_in(torch.relu(self.inp(torch.cat([rgb, trimap, alpha], 1))))
            state = self.lstm(x, state)
            alpha = torch.sigmoid(self.out(self.res_out(state[0])))
            alphas.append(alpha)
        return alphas


class AdaMattingOutput(NamedTuple):
    alpha: torch.Tensor  # [N, 1, h, w] after the propagation unit
    trimap: torch.Tensor  # [N, 3, h, w] adapted trimap probabilities: background, unknown, foreground
    alpha_decoder: torch.Tensor  # [N, 1, h, w] the A-decoder's alpha, before propagation
    trimap_logits: torch.Tensor | None = None  # training only: for the cross-entropy
    alpha_steps: tuple[torch.Tensor, ...] = ()  # training only: alpha after each propagation step


class AdaMattingNet(nn.Module):
    """Input: normalised RGB and the one-hot trimap, NCHW float, H and W multiples of 32."""

    needs_trimap = True
    extra_outputs = (TRIMAP_ADAPTED,)  # besides alpha, what every export has (trimap_adapted)
    debug_outputs = (ALPHA_DECODER,)  # with --debug-outputs

    def __init__(self, stem_width: int = 64, stem_kernel: int = 7,
                 stages: Sequence[tuple[int, int, int]] = ((64, 192, 3), (128, 384, 4), (256, 1024, 6),
                                                           (512, 1024, 3)),
                 decoder_widths: Sequence[int] = (512, 512, 256, 128, 64), gc_kernel: int = 5,
                 propagation_width: int = 32, propagation_steps: int = 3):
        super().__init__()
        self.encoder = Encoder(3 + 3, stem_width, stem_kernel, stages)
        taps = self.encoder.tap_channels
        self.t_decoder = Decoder(taps, decoder_widths, gc_kernel, 3)
        self.a_decoder = Decoder(taps, decoder_widths, gc_kernel, 1)
        self.propagation = PropagationUnit(propagation_width, propagation_steps)

    def logit_layers(self) -> list[nn.Conv2d]:
        """The convs whose outputs become the adapted trimap, the coarse alpha and each step's alpha."""
        return [self.t_decoder.head, self.a_decoder.head, self.propagation.out]

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> AdaMattingOutput:
        taps = self.encoder(torch.cat([image, trimap], 1))
        logits = self.t_decoder(taps)
        probs = torch.softmax(logits, dim=1)
        coarse = torch.sigmoid(self.a_decoder(taps))
        steps = self.propagation(image, probs, coarse)
        if not self.training:
            return AdaMattingOutput(steps[-1], probs, coarse)
        return AdaMattingOutput(steps[-1], probs, coarse, logits, tuple(steps))


# ------------------------------------------------------------------ the family's variants
PREPROCESSING = Preprocessing(mean=IMAGENET_MEAN_RGB, std=IMAGENET_STD_RGB)


@register_family("adamatting")
def build_adamatting(cfg: ModelConfig) -> AdaMattingNet:
    return AdaMattingNet(**cfg.arch)


register(ModelConfig(
    name="adamatting",
    family="adamatting",
    description="AdaMatting (Cai et al., ICCV 2019) from the supplementary's table: RGB + trimap, ResNet-style "
                "encoder (192/384/1024/1024 wide), two GC + sub-pixel decoders (alpha, adapted trimap), "
                "3-step ConvLSTM propagation unit (docs/adamatting.md)",
    encoder="resnet-table",  # Res-2..Res-5 as the supplementary's table lists them
    preprocessing=PREPROCESSING,
    inputs=(IMAGE, TRIMAP),
    arch={},  # AdaMattingNet's defaults are the table's reading
))
register(ModelConfig(
    name="adamatting_lite",
    family="adamatting",
    description="Same code, smaller: 32-wide 3x3 stem, two bottlenecks a stage (96/192/384/512 wide), decoders "
                "256-128-64-32-16, 16-wide propagation unit; for CPU tests and small GPUs",
    encoder="resnet-lite",
    preprocessing=PREPROCESSING,
    inputs=(IMAGE, TRIMAP),
    arch={"stem_width": 32, "stem_kernel": 3,
          "stages": ((32, 96, 2), (64, 192, 2), (128, 384, 2), (256, 512, 2)),
          "decoder_widths": (256, 128, 64, 32, 16), "propagation_width": 16},
))
