"""The Late Fusion network: size, wiring, outputs, BatchNorm eps."""
from __future__ import annotations

import pytest
import torch

from trtmatte.errors import TrtmatteError
from trtmatte.models import blend, count_parameters, create_model, get_config, list_models
from trtmatte.models.late_fusion import SideBlock


def test_parameter_count_is_the_papers(late_fusion):
    assert count_parameters(late_fusion) == 37_667_913
    assert count_parameters(late_fusion.encoder) == 18_092_928
    assert count_parameters(late_fusion.fg_decoder) == count_parameters(late_fusion.bg_decoder) == 9_010_052
    assert count_parameters(late_fusion.fusion) == 1_554_881


def test_bn_eps(late_fusion):
    for name, m in late_fusion.named_modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert m.eps == (1e-3 if name.startswith("fusion.") else 1.001e-5), name


def test_decoder_wiring(late_fusion):
    d = late_fusion.fg_decoder
    assert [d.deconv5.conv.out_channels, d.deconv4.conv.out_channels, d.deconv3.conv.out_channels,
            d.deconv2.conv.out_channels, d.deconv1.conv.out_channels] == [1792, 512, 256, 128, 128]
    assert d.deconv5.conv.in_channels == 1920 + 1792 and d.deconv2.conv.in_channels == 256 + 64
    assert all(m.conv.bias is None for m in (d.deconv5, d.deconv4, d.deconv3, d.deconv2, d.deconv1))
    # lateral 1x1 only where the block output is not already 128 wide
    assert [s.conv1 is not None for s in (d.side3, d.side2, d.side1, d.side0)] == [True, True, False, False]
    assert late_fusion.fusion.convs[0].conv.in_channels == 384
    assert [c.conv.out_channels for c in late_fusion.fusion.convs] == [256, 128, 128, 64, 256]


def test_inference_outputs(late_fusion):
    x = torch.randn(2, 3, 64, 96) * 60
    with torch.no_grad():
        out = late_fusion(x)
    for t in out[:4]:
        assert t.shape == (2, 1, 64, 96)
        assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0
    assert out.fg_sides == () and out.bg_sides == ()
    assert torch.allclose(out.alpha, out.beta * out.fg + (1 - out.beta) * (1 - out.bg))


def test_training_mode_returns_side_outputs():
    model = create_model("late_fusion_lite").train()
    out = model(torch.randn(2, 3, 64, 64))
    assert [s.shape[-1] for s in out.fg_sides] == [8, 16, 32, 64]
    assert [s.shape[-1] for s in out.bg_sides] == [8, 16, 32, 64]
    assert torch.equal(out.fg_sides[-1], out.fg)  # the stride-1 side output is F itself
    out.alpha.mean().backward()  # differentiable end to end
    assert model.fusion.conv_output.weight.grad is not None


def test_blend_gradient_vanishes_when_fg_plus_bg_is_one():
    """Paper, Eq. 3: d alpha / d beta = F + B - 1."""
    beta = torch.tensor([0.3, 0.3], requires_grad=True)
    fg = torch.tensor([0.8, 0.8])
    bg = torch.tensor([0.2, 0.5])
    blend(beta, fg, bg).sum().backward()
    assert torch.allclose(beta.grad, torch.tensor([0.0, 0.3]))


def test_registry():
    assert {"late_fusion", "late_fusion_lite"} <= set(list_models())
    cfg = get_config("late_fusion")
    assert cfg.preprocessing.mean == (127.156207, 115.917443, 106.031127)
    assert cfg.preprocessing.max_side == 800 and cfg.preprocessing.size_multiple == 32
    with pytest.raises(TrtmatteError, match="unknown model variant 'nope'.*late_fusion"):
        get_config("nope")


def test_side_block_without_lateral_adds_top_down():
    block = SideBlock(8, 8)
    x, td = torch.randn(1, 8, 4, 4), torch.randn(1, 8, 4, 4)
    feature, logit = block(x, td)
    assert torch.allclose(feature, block.conv2(x + td))
    assert logit.shape == (1, 1, 4, 4)
