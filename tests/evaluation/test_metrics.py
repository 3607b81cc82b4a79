"""Hand-computed checks of trtmatte.evaluation.metrics (DIM / Rhemann et al. matting metrics)."""
import math

import numpy as np
import pytest
from scipy import ndimage

from trtmatte.errors import TrtmatteError
from trtmatte.evaluation.metrics import (
    connectivity_error,
    evaluate,
    gradient_error,
    mse,
    region_mask,
    sad,
)


def _trimap_block(shape, rows, cols):
    t = np.zeros(shape, np.uint8)
    t[rows, cols] = 128
    return t


# ----------------------------------------------------------------------------- SAD / MSE


def test_sad_constant_difference_over_trimap_region():
    gt = np.zeros((10, 10))
    pred = np.full((10, 10), 0.5)
    trimap = _trimap_block((10, 10), slice(2, 6), slice(3, 8))  # 4 x 5 = 20 unknown pixels
    m = region_mask(gt, trimap=trimap)
    assert m.sum() == 20
    assert sad(pred, gt, m) == pytest.approx(20 * 0.5 / 1000)  # 0.01
    assert mse(pred, gt, m) == pytest.approx(0.25)  # mean, not /1000
    # Full image: 100 pixels.
    assert sad(pred, gt) == pytest.approx(0.05)


def test_mse_by_hand():
    gt = np.zeros((2, 3))
    pred = np.array([[0.1, 0.2, 0.9], [0.0, 0.3, 0.9]])
    m = np.array([[True, True, False], [True, True, False]])
    # (0.01 + 0.04 + 0 + 0.09) / 4 = 0.035; the 0.9 pixels are outside the mask.
    assert mse(pred, gt, m) == pytest.approx(0.035)
    assert sad(pred, gt, m) == pytest.approx(0.6 / 1000)


def test_mse_of_empty_region_is_nan():
    gt = np.zeros((4, 4))
    assert math.isnan(mse(gt, gt, np.zeros((4, 4), bool)))


def test_identical_inputs_give_zero_everywhere():
    rng = np.random.default_rng(0)
    gt = rng.random((24, 32))
    gt[:, :8] = 0.0
    gt[:, -8:] = 1.0
    res = evaluate(gt, gt.copy(), band=3)
    assert res == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}


# ----------------------------------------------------------------------------- gradient


def _dim_kernel_1d(sigma=1.4):
    # gaussgradient.m written out again: halfsize = ceil(s*sqrt(-2*log(sqrt(2*pi)*s*0.01))) = 4.
    h = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * 0.01)))
    assert h == 4
    gauss = lambda x: math.exp(-x * x / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dgauss = lambda x: -x * gauss(x) / sigma**2
    hx = np.array([[gauss(i - h) * dgauss(j - h) for j in range(2 * h + 1)] for i in range(2 * h + 1)])
    hx /= math.sqrt((np.abs(hx) ** 2).sum())
    return hx


def test_gradient_error_of_shifted_matte_is_zero():
    rng = np.random.default_rng(1)
    gt = ndimage.gaussian_filter(rng.random((20, 20)), 2.0)
    gt = (gt - gt.min()) / (gt.max() - gt.min()) * 0.8
    assert gradient_error(gt + 0.1, gt) == pytest.approx(0.0, abs=1e-12)


def test_gradient_error_is_scale_free_like_dims_mat2gray():
    # DIM rescales both mattes with mat2gray (min-max) before filtering, so pred = gt / 2 scores 0.
    gt = np.zeros((10, 10))
    gt[:, 5:] = 1.0
    assert gradient_error(gt / 2, gt) == pytest.approx(0.0, abs=1e-12)


def test_gradient_error_step_edge_vs_flat_matches_scipy():
    gt = np.zeros((8, 12))
    gt[:, 6:] = 1.0
    pred = np.zeros_like(gt)  # flat: gradient 0
    hx = _dim_kernel_1d()
    # Independent path: scipy.ndimage.convolve with 'nearest' (= MATLAB 'replicate').
    gx = ndimage.convolve(gt, hx, mode="nearest")
    gy = ndimage.convolve(gt, hx.T, mode="nearest")
    expected_full = (gx**2 + gy**2).sum() / 1000
    assert gradient_error(pred, gt) == pytest.approx(expected_full, rel=1e-10)
    # For a vertical edge gy is 0 and gx is a 1-D filter of the row profile.
    w = hx.sum(axis=0)  # sum over the Gaussian (rows) leaves the derivative taps
    gx1 = ndimage.convolve1d(gt[0], w, mode="nearest")
    assert expected_full == pytest.approx(8 * (gx1**2).sum() / 1000, rel=1e-10)
    assert expected_full > 1e-4
    # Restricted to the 4 columns around the edge.
    m = np.zeros_like(gt, bool)
    m[:, 4:8] = True
    assert gradient_error(pred, gt, m) == pytest.approx(8 * (gx1[4:8] ** 2).sum() / 1000, rel=1e-10)


# ----------------------------------------------------------------------------- connectivity


def test_connectivity_hand_example():
    # 5x5, everything 0 except:
    #   pred row 0 = [1, .3, 1, 1, 1], pred[1,4] = .6, pred[2,2] = .1
    #   gt   row 0 = [1,  1, 1, 1, 1]
    # Largest 4-connected component of (pred>=t)&(gt>=t):
    #   t = .1, .2, .3: all of row 0 -> every other pixel gets l = 0 (threshold before .1)
    #   t = .4: row 0 splits into {(0,0)} and {(0,2),(0,3),(0,4)}; the latter is kept,
    #           so (0,0) and (0,1) get l = .3
    #   t = .5 .. 1: {(0,2..4)} stays (1 >= 1) -> l = 1 for those.
    # d = alpha - l, phi = 1 - d*(d >= .15):
    #   (0,0): pred d = .7, gt d = .7            -> |phi diff| 0
    #   (0,1): pred d = 0 (phi 1), gt d = .7 (phi .3) -> 0.7
    #   (0,2..4): d = 0 for both                -> 0
    #   (1,4): pred d = .6 (phi .4), gt d = 0   -> 0.6
    #   (2,2): pred d = .1 < .15 (phi 1), gt 1  -> 0   (SAD does count this 0.1)
    # Conn = 1.3 / 1000; SAD = (0.7 + 0.6 + 0.1) / 1000.
    pred = np.zeros((5, 5))
    gt = np.zeros((5, 5))
    pred[0] = [1, 0.3, 1, 1, 1]
    pred[1, 4] = 0.6
    pred[2, 2] = 0.1
    gt[0] = 1.0
    assert connectivity_error(pred, gt) == pytest.approx(1.3 / 1000)
    assert sad(pred, gt) == pytest.approx(1.4 / 1000)
    # Only the (0,1) pixel in the region.
    m = np.zeros((5, 5), bool)
    m[0, 1] = True
    assert connectivity_error(pred, gt, m) == pytest.approx(0.7 / 1000)


def test_connectivity_uses_four_connectivity():
    # pred = gt = 1 on the 2x2 block at the top-left; (2,2), a diagonal neighbour of (1,1), has
    # pred .8 and gt .9.  4-connected: (2,2) is its own component from t = .1, so l = 0 there:
    #   pred d = .8 (phi .2), gt d = .9 (phi .1) -> 0.1.
    # (8-connected it would stay until t = .9, l = .8: pred d = 0, gt d = .1 < .15 -> 0.)
    pred = np.zeros((4, 4))
    gt = np.zeros((4, 4))
    pred[:2, :2] = gt[:2, :2] = 1.0
    pred[2, 2], gt[2, 2] = 0.8, 0.9
    assert connectivity_error(pred, gt) == pytest.approx(0.1 / 1000)


def test_connectivity_tie_goes_to_first_component_in_column_major_order():
    # Two 2-pixel components, pred = 1 on both: A = (0,3),(0,4) with gt .9 comes first row by
    # row; B = (1,0),(2,0) with gt 1 comes first column by column (MATLAB's bwconncomp order).
    # For t = .1 .. .9 they tie and B is kept, so A drops at t = .1 -> l = 0 on A:
    #   A: pred d = 1 (phi 0), gt d = .9 (phi .1) -> 2 * 0.1 = 0.2;  B: l = 1 -> 0.
    # (Keeping A instead: B gets l = 0, pred = gt there -> 0; A leaves at t = 1 with l = .9,
    #  pred d = .1 < .15 and gt d = 0 -> 0, total 0.)
    pred = np.zeros((3, 5))
    gt = np.zeros((3, 5))
    pred[0, 3:5] = 1.0
    pred[1:3, 0] = 1.0
    gt[0, 3:5] = 0.9
    gt[1:3, 0] = 1.0
    assert connectivity_error(pred, gt) == pytest.approx(0.2 / 1000)


def test_connectivity_threshold_is_inclusive_at_decimal_values():
    # alpha = 153/255 = 0.6 must pass the t = 0.6 threshold (DIM compares in single precision;
    # 6*0.1 in double is 0.6000000000000001 and would drop the pixel one step early).
    # pred = gt = 1 on columns 0-1; (0,2) has pred 153 (.6) and gt 178 (.698), the rest 0.
    # (0,2) stays in the big component through t = .6 -> l = .6:
    #   pred d = 0 (phi 1), gt d = .098 < .15 (phi 1) -> 0.
    # (With l = .5: pred d = .1 (phi 1), gt d = .198 (phi .802) -> 0.198.)
    gt = np.zeros((3, 3), np.uint8)
    pred = np.zeros((3, 3), np.uint8)
    gt[:, :2] = pred[:, :2] = 255
    pred[0, 2], gt[0, 2] = 153, 178
    assert connectivity_error(pred, gt) == pytest.approx(0.0, abs=1e-15)


# ----------------------------------------------------------------------------- regions


def test_region_trimap_only_128():
    gt = np.zeros((3, 4))
    trimap = np.array([[0, 127, 128, 129], [255, 128, 128, 0], [1, 2, 3, 128]], np.uint8)
    m = region_mask(gt, trimap=trimap)
    assert m.tolist() == [[False, False, True, False], [False, True, True, False],
                          [False, False, False, True]]


def test_region_band_grows_transition_line_by_k():
    gt = np.zeros((9, 11))
    gt[:, 6:] = 1.0
    gt[:, 5] = 0.5  # 1-pixel transition column
    assert region_mask(gt, band=0).sum() == 9
    m = region_mask(gt, band=2)
    expected = np.zeros((9, 11), bool)
    expected[:, 3:8] = True  # columns 5 +- 2, all rows
    assert np.array_equal(m, expected)
    # band larger than the image: clipped at the border, whole image.
    assert region_mask(gt, band=20).all()


def test_region_band_structuring_element_is_square():
    gt = np.zeros((7, 7))
    gt[3, 3] = 0.5  # single transition pixel
    m = region_mask(gt, band=1)
    expected = np.zeros((7, 7), bool)
    expected[2:5, 2:5] = True  # 3x3 square (a cross or disk would miss the corners)
    assert np.array_equal(m, expected)
    assert region_mask(gt, band=2).sum() == 25


def test_region_full_image_and_both_given():
    gt = np.zeros((3, 3))
    assert region_mask(gt).all()
    with pytest.raises(TrtmatteError):
        region_mask(gt, trimap=np.zeros((3, 3), np.uint8), band=2)
    with pytest.raises(TrtmatteError):
        region_mask(gt, band=-1)
    with pytest.raises(TrtmatteError):
        region_mask(gt, trimap=np.full((3, 3), 0.5))


def test_evaluate_uses_region():
    gt = np.zeros((10, 10))
    pred = np.full((10, 10), 0.5)
    trimap = _trimap_block((10, 10), slice(0, 2), slice(0, 10))  # 20 pixels
    res = evaluate(pred, gt, trimap=trimap)
    assert res["sad"] == pytest.approx(0.01)
    assert res["mse"] == pytest.approx(0.25)
    assert res["grad"] == pytest.approx(0.0, abs=1e-12)  # both flat
    # Conn: intersection empty at every t -> l = 0; pred d = .5 (phi .5), gt phi 1 -> .5 each.
    assert res["conn"] == pytest.approx(20 * 0.5 / 1000)


# ----------------------------------------------------------------------------- input handling


def test_uint8_equals_float_over_255():
    rng = np.random.default_rng(2)
    gt8 = rng.integers(0, 256, (16, 16), dtype=np.uint8)
    gt8[:, :4] = 0
    gt8[:, -4:] = 255
    pred8 = np.clip(gt8.astype(int) + rng.integers(-40, 41, (16, 16)), 0, 255).astype(np.uint8)
    trimap = np.full((16, 16), 128, np.uint8)
    a = evaluate(pred8, gt8, trimap=trimap)
    b = evaluate(pred8 / 255.0, gt8 / 255.0, trimap=trimap)
    assert a == b
    assert a["sad"] > 0 and a["grad"] > 0 and a["conn"] > 0


def test_bad_inputs_raise():
    gt = np.zeros((4, 4))
    with pytest.raises(TrtmatteError, match="shape"):
        sad(np.zeros((4, 5)), gt)
    with pytest.raises(TrtmatteError):
        mse(np.zeros((4, 4, 3)), gt)
    with pytest.raises(TrtmatteError, match=r"\[0, 1\]"):
        gradient_error(np.full((4, 4), 1.5), gt)
    with pytest.raises(TrtmatteError):
        connectivity_error(np.full((4, 4), -0.1), gt)
    with pytest.raises(TrtmatteError):
        sad(np.full((4, 4), np.nan), gt)
    with pytest.raises(TrtmatteError, match="dtype"):
        sad(np.zeros((4, 4), np.int64), gt)
    with pytest.raises(TrtmatteError, match="mask"):
        sad(gt, gt, np.ones((4, 4), np.uint8))
    with pytest.raises(TrtmatteError, match="shape"):
        sad(gt, gt, np.ones((3, 4), bool))
    with pytest.raises(TrtmatteError, match="trimap shape"):
        evaluate(gt, gt, trimap=np.zeros((4, 3), np.uint8))
    # H x W x 1 is accepted.
    assert sad(gt[:, :, None], gt) == 0.0
