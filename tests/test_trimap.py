"""Trimaps: the encoding and its thresholds, the one-line errors against images, the masks
(dilation, erosion, ground truth, rough outlines, Late Fusion's F and B), and the in-graph torch
versions of the same rules (trtmatte.models.trimap_ops), which must agree with NumPy exactly."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from trtmatte import trimap as T
from trtmatte.errors import TrtmatteError

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")
MT = pytest.importorskip("trtmatte.models.trimap_ops")


def test_thresholds_read_any_value():
    values = np.arange(256, dtype=np.uint8)
    snapped = T.snap(values)
    assert set(snapped[:85]) == {0} and set(snapped[85:171]) == {128} and set(snapped[171:]) == {255}
    # the graph's reading is the same: foreground > 170, background < 85
    fg, bg = MT.known_masks(torch.from_numpy(values)[None])
    graph = np.where(fg[0, 0].numpy() > 0, 255, np.where(bg[0, 0].numpy() > 0, 0, 128))
    assert np.array_equal(graph, snapped)
    onehot = MT.one_hot(torch.from_numpy(values)[None])
    assert torch.equal(onehot.sum(1), torch.ones(1, 256)) and onehot.shape == (1, 3, 256)


@pytest.mark.parametrize("trimap,match", [
    (None, "needs a trimap .*--trimap PATH_OR_DIR, or --trimap auto"),
    (np.zeros((4, 6), np.float32), "must be a uint8 NumPy array"),
    (np.zeros((5, 6), np.uint8), "the trimap is 6x5 but the image is 6x4"),
    (np.zeros((3, 4, 6), np.uint8), "3 trimap.s. for 2 image.s."),
    (np.zeros((2, 4, 6, 2), np.uint8), r"must be \[H, W\] or \[N, H, W\]"),
])
def test_check_trimap_one_line_errors(trimap, match):
    images = np.zeros((2, 4, 6, 3), np.uint8)
    with pytest.raises(T.TrimapError, match=match) as err:
        T.check_trimap(trimap, images, "the adamatting model")
    assert "\n" not in str(err.value) and isinstance(err.value, TrtmatteError)


def test_check_trimap_accepts_hw_and_n_h_w_1():
    images = np.zeros((1, 4, 6, 3), np.uint8)
    assert T.check_trimap(np.zeros((4, 6), np.uint8), images).shape == (1, 4, 6)
    assert T.check_trimap(np.zeros((1, 4, 6, 1), np.uint8), images).shape == (1, 4, 6)
    with pytest.raises(T.TrimapError, match="takes no trimap .*drop the trimap"):
        T.refuse_trimap(np.zeros((4, 6), np.uint8), "the late_fusion model")
    T.refuse_trimap(None)


@pytest.mark.parametrize("radius", [0, 1, 3, 9])
def test_dilation_and_erosion_equal_the_graphs_max_pool(radius):
    mask = np.random.default_rng(radius).random((2, 23, 31)) > 0.8
    want = F.max_pool2d(torch.from_numpy(mask).float()[:, None], 2 * radius + 1, 1, radius)[:, 0].numpy() > 0
    assert np.array_equal(T.dilate(mask, radius), want)
    assert np.array_equal(T.erode(mask, radius), MT.erode(torch.from_numpy(mask).float(), radius).numpy() > 0)


def test_from_alpha_makes_the_transition_and_hard_edges_unknown():
    alpha = np.zeros((20, 20), np.float32)
    alpha[5:15, 5:15] = 1.0
    alpha[5:15, 10] = 0.5  # a soft column inside
    t = T.from_alpha(alpha, band=2)
    assert set(np.unique(t)) == {0, 128, 255}
    assert (t[alpha == 0.5] == 128).all()  # the transition is unknown
    assert t[0, 0] == 0 and t[7, 7] == 255 and t[4, 9] == 128 and t[3, 9] == 128 and t[2, 9] == 0
    assert np.array_equal(T.from_alpha((alpha * 255).astype(np.uint8), band=2), t)  # uint8 alpha alike


def test_rough_mask_trimap_follows_the_photo(photo):
    t = T.from_rough_mask(photo)
    share = {v: float(np.mean(t == v)) for v in (0, 128, 255)}
    assert t.shape == photo.shape[:2] and all(0.05 < s < 0.9 for s in share.values()), share


def test_auto_trimap_from_f_and_b_numpy_equals_graph():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:40, :50]
    fg = np.clip((25 - np.hypot(yy - 20, xx - 25)) / 6 + 0.5, 0, 1).astype(np.float32)
    bg = (1 - fg).astype(np.float32)
    bg[:10, :10] = rng.random((10, 10))  # the decoders disagree there: unknown
    options = T.AutoTrimapOptions(confidence=0.95, dilation=2)
    t = T.auto_trimap(fg, bg, options)
    assert t[20, 25] == 255 and t[39, 0] == 0 and (t[:8, :8] == 128).all()
    graph = MT.auto_trimap(torch.from_numpy(fg)[None], torch.from_numpy(bg)[None], options)[0].numpy()
    assert np.array_equal(graph.astype(np.uint8), t)
    # the unknown band grows with the dilation
    assert np.sum(T.auto_trimap(fg, bg, T.AutoTrimapOptions(0.95, 6)) == 128) > np.sum(t == 128)


@pytest.mark.parametrize("options,match", [(T.AutoTrimapOptions(confidence=0.4), "confidence must be in"),
                                           (T.AutoTrimapOptions(dilation=-1), "dilation must be 0..255")])
def test_auto_trimap_options_checked(options, match):
    with pytest.raises(TrtmatteError, match=match):
        options.check()


def test_enforce_known_and_class_values():
    trimap = torch.tensor([[[0, 128, 255, 40, 200]]], dtype=torch.uint8)
    alpha = torch.full((1, 1, 5), 0.3)
    assert torch.allclose(MT.enforce_known(alpha, trimap), torch.tensor([[[0.0, 0.3, 1.0, 0.0, 1.0]]]))
    # background, unknown, foreground probabilities; ties go to foreground, then unknown
    probs = torch.tensor([[0.8, 0.1, 0.1, 0.4, 0.2], [0.1, 0.8, 0.1, 0.4, 0.4], [0.1, 0.1, 0.8, 0.2, 0.4]])[None, :, None]
    assert MT.class_values(probs)[0, 0].tolist() == [0, 128, 255, 128, 255]


def test_resize_probability_is_the_pipelines_filter():
    from trtmatte.models.preprocess import resize_nchw

    prob = np.random.default_rng(0).random((12, 20)).astype(np.float32)
    for h, w in ((12, 20), (37, 45), (5, 7)):
        want = resize_nchw(torch.from_numpy(prob)[None, None], h, w)[0, 0].numpy()
        assert np.abs(T.resize_probability(prob, h, w) - want).max() < 1e-5
