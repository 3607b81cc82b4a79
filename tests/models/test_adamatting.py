"""AdaMatting as trtmatte reads the supplementary's table (docs/adamatting.md): the widths, kernel
shapes, strides and the parameter count pinned; the forward pass of the lite variant; the
propagation unit unrolled; the pipeline with a trimap (encoding, known regions, adapted trimap)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trtmatte.models import count_parameters, create_model, get_config
from trtmatte.models.adamatting import AdaMattingNet, GlobalConv, SubPixelUp
from trtmatte.models.matting_pipeline import MattingPipeline
from trtmatte.models.trimap_ops import one_hot

# The reading of the table documented in docs/adamatting.md, counted (BatchNorm statistics excluded).
PAPER_PARAMETERS = 68_896_805
PARTS = {"encoder": 19_468_800, "t_decoder": 24_657_987, "a_decoder": 24_656_833, "propagation": 113_185}
LITE_PARAMETERS = 9_864_149


@pytest.fixture(scope="module")
def paper():
    torch.manual_seed(0)
    return create_model("adamatting")


@pytest.fixture(scope="module")
def lite():
    torch.manual_seed(0)
    return create_model("adamatting_lite")


def test_parameter_count_is_the_tables_reading(paper, lite):
    assert count_parameters(paper) == PAPER_PARAMETERS
    assert {name: count_parameters(getattr(paper, name)) for name in PARTS} == PARTS
    assert count_parameters(lite) == LITE_PARAMETERS


def test_encoder_widths_strides_and_repeats(paper):
    enc = paper.encoder
    assert enc.conv1[0].in_channels == 6 and enc.conv1[0].kernel_size == (7, 7) and enc.conv1[0].stride == (1, 1)
    assert isinstance(enc.pool, nn.MaxPool2d) and enc.pool.kernel_size == 2 and enc.pool.stride == 2
    # Res-2..Res-5: (bottleneck width, output width, repeats), the table's 192 / 384 / 1024 / 1024
    assert [(s[0].conv1[0].out_channels, s[0].conv3[0].out_channels, len(s)) for s in enc.res] == [
        (64, 192, 3), (128, 384, 4), (256, 1024, 6), (512, 1024, 3)]
    assert all(s[0].conv2[0].stride == (2, 2) for s in enc.res)
    assert enc.tap_channels == (64, 192, 384, 1024, 1024)
    with torch.no_grad():
        taps = enc(torch.zeros(1, 6, 64, 64))
    # the table's output sizes for a 320 input (320 / 160 pooled, 80, 40, 20, 10) at 64: strides 2..32
    assert [t.shape[-1] for t in taps] == [32, 16, 8, 4, 2]


def test_decoders_follow_the_table(paper):
    for decoder, out in ((paper.t_decoder, 3), (paper.a_decoder, 1)):
        widths = [gc.bn.num_features for gc in decoder.gc]
        assert widths == [512, 512, 256, 128, 64]  # GC1..GC5
        assert [up.conv[0].out_channels for up in decoder.up] == [2048, 2048, 1024, 512, 256]  # Upsample1..5
        assert all(isinstance(up.shuffle, nn.PixelShuffle) and up.shuffle.upscale_factor == 2 for up in decoder.up)
        # GC_i reads [upsampled stream, shortcut tap]: Res-5, then Res-4, Res-3, Res-2 and pooled Conv1
        assert [gc.left[0].in_channels for gc in decoder.gc] == [1024, 512 + 1024, 512 + 384, 256 + 192, 128 + 64]
        gc = decoder.gc[0]
        assert isinstance(gc, GlobalConv)
        assert [c.kernel_size for c in (*gc.left, *gc.right)] == [(5, 1), (1, 5), (1, 5), (5, 1)]
        assert decoder.head.kernel_size == (3, 3) and decoder.head.out_channels == out
    assert isinstance(paper.a_decoder.up[0], SubPixelUp)


def test_lite_forward_outputs(lite):
    image = torch.randn(2, 3, 64, 96)
    trimap = one_hot(torch.randint(0, 3, (2, 64, 96)) * 127.5)
    with torch.no_grad():
        out = lite(image, trimap)
    assert out.alpha.shape == out.alpha_decoder.shape == (2, 1, 64, 96) and out.trimap.shape == (2, 3, 64, 96)
    assert torch.allclose(out.trimap.sum(1), torch.ones(2, 64, 96), atol=1e-5)
    assert 0 <= out.alpha.min() and out.alpha.max() <= 1 and out.trimap_logits is None and out.alpha_steps == ()
    lite.train()
    try:
        train = lite(image, trimap)
    finally:
        lite.eval()
    assert train.trimap_logits.shape == (2, 3, 64, 96) and len(train.alpha_steps) == 3
    assert train.alpha_steps[-1] is train.alpha


def test_propagation_unit_is_unrolled_a_fixed_number_of_steps():
    torch.manual_seed(0)
    small = dict(stem_width=8, stem_kernel=3, stages=((4, 8, 1), (4, 8, 1), (8, 16, 1), (8, 16, 1)),
                 decoder_widths=(16, 16, 8, 8, 8), propagation_width=4)
    one, three = AdaMattingNet(propagation_steps=1, **small).eval(), AdaMattingNet(propagation_steps=3, **small).eval()
    three.load_state_dict(one.state_dict())  # the steps share their weights: same parameters
    x, t = torch.randn(1, 3, 32, 32), one_hot(torch.full((1, 32, 32), 128.0))
    with torch.no_grad():
        a1, a3 = one(x, t), three(x, t)
    assert torch.equal(a1.alpha_decoder, a3.alpha_decoder) and not torch.allclose(a1.alpha, a3.alpha)


def test_pipeline_encodes_the_trimap_and_imposes_its_known_regions(lite):
    pre = get_config("adamatting_lite").preprocessing
    image = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 50, 70, 3), dtype=np.uint8))
    trimap = torch.from_numpy(np.random.default_rng(1).choice(np.array([0, 128, 255, 20, 220], np.uint8), (1, 50, 70)))
    with torch.no_grad():
        out = MattingPipeline(lite, pre)(image, trimap)
        free = MattingPipeline(lite, pre, enforce_trimap=False)(image, trimap)
    assert out.alpha.shape == (1, 50, 70)
    assert (out.alpha[trimap > 170] == 1).all() and (out.alpha[trimap < 85] == 0).all()
    unknown = (trimap >= 85) & (trimap <= 170)
    assert torch.equal(out.alpha[unknown], free.alpha[unknown]) and not torch.equal(out.alpha, free.alpha)
    assert out.trimap_adapted.shape == (1, 50, 70) and set(out.trimap_adapted.unique().tolist()) <= {0.0, 128.0, 255.0}
    assert out.alpha_decoder.shape == (1, 64, 96)  # debug map at the working size
    with pytest.raises(ValueError, match="needs a trimap"):
        MattingPipeline(lite, pre)(image)


def test_registry_marks_trimap_models():
    assert get_config("adamatting").needs_trimap and get_config("adamatting").inputs == ("image", "trimap")
    assert not get_config("late_fusion").needs_trimap
    assert get_config("adamatting").preprocessing.std != (1.0, 1.0, 1.0)  # ImageNet normalisation
