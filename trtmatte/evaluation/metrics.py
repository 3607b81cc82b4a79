"""Alpha-matte error metrics: SAD, MSE, gradient and connectivity error.

The four measures are those of Rhemann et al., "A Perceptually Motivated Online Benchmark for
Image Matting" (CVPR 2009), computed the way the official MATLAB evaluation code of Deep Image
Matting (Xu et al., CVPR 2017; ``compute_sad_loss.m``, ``compute_mse_loss.m``,
``compute_gradient_loss.m``, ``compute_connectivity_error.m``, ``gaussgradient.m``) computes them,
so numbers are comparable with the tables of DIM and of the papers that reuse its code (Late
Fusion, GCA, ...).  With ``a`` the predicted and ``g`` the ground-truth alpha in [0, 1] and ``R``
the evaluated region:

* SAD  = sum_R |a - g| / 1000
* MSE  = sum_R (a - g)^2 / |R|                      (a true mean; *not* divided by 1000)
* Grad = sum_R (|grad a| - |grad g|)^2 / 1000        (first-order Gaussian derivatives, sigma 1.4)
* Conn = sum_R |phi(a) - phi(g)| / 1000              (threshold step 0.1)

The /1000 of SAD, Grad and Conn is DIM's convention ("the loss is scaled by 1000 due to the large
images used in our experiment"); papers report these three in thousands, MSE unscaled (tables
often show MSE x 1e3 -- this module returns the plain mean).

Regions (:func:`region_mask`): the unknown area of a trimap (``trimap == 128``, as DIM), a band
around the ground truth's transition region (``0 < g < 1``) grown by ``k`` pixels with a square
(2k+1)x(2k+1) structuring element (Chebyshev distance <= k, the same as k passes of a 3x3
dilation; the "-25" results of Late Fusion use k = 25), or the whole image.

Gradient and connectivity are computed on the *whole* image (filters and connected components see
all pixels, as in DIM) and only the final sum is restricted to the region.

Inputs are float arrays in [0, 1] or uint8 in 0..255 (divided by 255).  Arithmetic is float64;
DIM works in single precision, which changes results only in the last digits of the sums.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import TrtmatteError

__all__ = [
    "region_mask",
    "sad",
    "mse",
    "gradient_error",
    "connectivity_error",
    "evaluate",
]

# ----------------------------------------------------------------------------- input checking


def _as_2d(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim != 2 or a.size == 0:
        raise TrtmatteError(f"{name} must be a non-empty H x W array, got shape {a.shape}")
    return a


def _as_alpha(a, name: str) -> np.ndarray:
    """float64 H x W alpha in [0, 1]; uint8 input is divided by 255."""
    a = _as_2d(a, name)
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise TrtmatteError(
            f"{name} has dtype {a.dtype}; pass float alpha in [0, 1] or uint8 in 0..255")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise TrtmatteError(f"{name} contains NaN or infinite values")
    lo, hi = float(a.min()), float(a.max())
    if lo < 0.0 or hi > 1.0:
        raise TrtmatteError(
            f"{name} has values in [{lo:g}, {hi:g}], outside [0, 1] (uint8 mattes must be dtype uint8)")
    return a


def _pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    p = _as_alpha(pred, "pred")
    g = _as_alpha(gt, "gt")
    if p.shape != g.shape:
        raise TrtmatteError(f"pred shape {p.shape} differs from gt shape {g.shape}")
    return p, g


def _mask(mask, shape: tuple[int, int]) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = _as_2d(mask, "mask")
    if m.dtype != np.bool_:
        # A trimap passed here by mistake would silently count every non-zero pixel.
        raise TrtmatteError(f"mask must be a bool array, got dtype {m.dtype} (use region_mask())")
    if m.shape != shape:
        raise TrtmatteError(f"mask shape {m.shape} differs from alpha shape {shape}")
    return m


# ----------------------------------------------------------------------------- regions


def region_mask(gt, trimap=None, band: int | None = None) -> np.ndarray:
    """Bool H x W mask of the pixels to evaluate.

    ``trimap``: unknown region, ``trimap == 128`` (0/128/255 convention, as DIM).
    ``band``: the transition region ``0 < gt < 1`` dilated by ``band`` pixels with a square
    (2*band+1)^2 structuring element (band=0: the transition region itself).
    Neither: the full image.  Giving both is an error.
    """
    g = _as_alpha(gt, "gt")
    if trimap is not None and band is not None:
        raise TrtmatteError("give either trimap or band, not both")
    if trimap is not None:
        t = _as_2d(trimap, "trimap")
        if t.shape != g.shape:
            raise TrtmatteError(f"trimap shape {t.shape} differs from gt shape {g.shape}")
        if np.issubdtype(t.dtype, np.floating) and np.any(t != np.round(t)):
            # A [0, 1] float trimap (unknown = 0.5) would select nothing with == 128.
            raise TrtmatteError("trimap has fractional values; pass 0/128/255 (uint8) with unknown = 128")
        return t == 128
    if band is not None:
        if isinstance(band, bool) or not isinstance(band, (int, np.integer)) or band < 0:
            raise TrtmatteError(f"band must be a non-negative integer number of pixels, got {band!r}")
        transition = (g > 0.0) & (g < 1.0)
        k = int(band)
        if k == 0:
            return transition
        import cv2

        kernel = np.ones((2 * k + 1, 2 * k + 1), np.uint8)
        # cv2.dilate pads with -inf-like values by default, so the image border is not grown into.
        return cv2.dilate(transition.astype(np.uint8), kernel).astype(bool)
    return np.ones(g.shape, dtype=bool)


# ----------------------------------------------------------------------------- SAD / MSE


def sad(pred, gt, mask=None) -> float:
    """Sum of absolute differences over ``mask`` (bool, default: whole image), divided by 1000."""
    p, g = _pair(pred, gt)
    m = _mask(mask, p.shape)
    return float(np.abs(p - g)[m].sum()) / 1000.0


def mse(pred, gt, mask=None) -> float:
    """Mean squared difference over ``mask`` (not divided by 1000); NaN when the mask is empty
    (DIM's 0/0)."""
    p, g = _pair(pred, gt)
    m = _mask(mask, p.shape)
    n = int(m.sum())
    if n == 0:
        return float("nan")
    return float(((p - g)[m] ** 2).sum()) / n


# ----------------------------------------------------------------------------- gradient


def _gaussgradient_kernel(sigma: float) -> np.ndarray:
    """DIM's gaussgradient.m x-kernel: hx(i, j) = gauss(i) * dgauss(j), unit L2 norm."""
    epsilon = 1e-2
    # Half-width at which the Gaussian density falls to epsilon (DIM's formula; 4 for sigma 1.4).
    half = int(math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(u ** 2) / (2.0 * sigma ** 2)) / (sigma * math.sqrt(2.0 * math.pi))
    dgauss = -u * gauss / sigma ** 2
    hx = np.outer(gauss, dgauss)  # rows: Gaussian in y, columns: derivative in x
    return hx / math.sqrt(float((hx * hx).sum()))


def _mat2gray(a: np.ndarray) -> np.ndarray:
    # DIM applies MATLAB's mat2gray, i.e. min-max rescaling to [0, 1]; for mattes that reach both
    # 0 and 1 this is the identity.  A constant image is returned unchanged (its gradient is 0).
    lo, hi = float(a.min()), float(a.max())
    if hi == lo:
        return a
    return (a - lo) / (hi - lo)


def _grad_amplitude(a: np.ndarray, hx: np.ndarray) -> np.ndarray:
    import cv2

    # imfilter(IM, h, 'replicate', 'conv'): OpenCV correlates, so flip the kernel (this only flips
    # the sign of the derivative; the amplitude is the same) and replicate the border.
    kx = np.ascontiguousarray(hx[::-1, ::-1])
    ky = np.ascontiguousarray(hx.T[::-1, ::-1])
    src = np.ascontiguousarray(a, dtype=np.float64)
    gx = cv2.filter2D(src, cv2.CV_64F, kx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(src, cv2.CV_64F, ky, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx * gx + gy * gy)


def gradient_error(pred, gt, mask=None, sigma: float = 1.4) -> float:
    """sum over ``mask`` of (|grad pred| - |grad gt|)^2, divided by 1000 (DIM's
    compute_gradient_loss: mat2gray, then Gaussian-derivative filters of ``sigma``)."""
    p, g = _pair(pred, gt)
    m = _mask(mask, p.shape)
    hx = _gaussgradient_kernel(float(sigma))
    diff = _grad_amplitude(_mat2gray(p), hx) - _grad_amplitude(_mat2gray(g), hx)
    return float((diff * diff)[m].sum()) / 1000.0


# ----------------------------------------------------------------------------- connectivity

_FOUR = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def _largest_component(binary: np.ndarray) -> np.ndarray:
    """Largest 4-connected component of ``binary`` (bwconncomp(..., 4) + max of the sizes).

    MATLAB numbers components by their first pixel in column-major order and ``max`` returns the
    first maximum, so ties go to the component that comes first column by column; labelling the
    transposed image in scipy's row-major scan reproduces that order.
    """
    from scipy import ndimage

    labels_t, n = ndimage.label(binary.T, structure=_FOUR)
    if n == 0:
        return np.zeros(binary.shape, dtype=bool)
    sizes = np.bincount(labels_t.ravel(), minlength=n + 1)
    sizes[0] = 0
    best = sizes.max()
    candidates = np.flatnonzero(sizes == best)
    if candidates.size == 1:
        keep = candidates[0]
    else:
        # Do not rely on scipy's label numbering: pick the candidate whose first pixel comes first.
        flat = labels_t.ravel()
        first = {int(c): int(np.argmax(flat == c)) for c in candidates}
        keep = min(first, key=first.get)
    return (labels_t == keep).T


def connectivity_error(pred, gt, mask=None, step: float = 0.1) -> float:
    """DIM's compute_connectivity_error, divided by 1000.

    For t in 0:step:1 (skipping t = 0, as DIM's loop starts at the second threshold) take the
    largest 4-connected component of (pred >= t) & (gt >= t); l(x) is the last threshold before x
    left that component (1 if it never left).  With d = alpha - l,
    phi = 1 - d * (d >= 0.15), and the error is sum over ``mask`` of |phi(pred) - phi(gt)|.
    """
    p, g = _pair(pred, gt)
    m = _mask(mask, p.shape)
    if not (0.0 < step <= 1.0):
        raise TrtmatteError(f"connectivity step must be in (0, 1], got {step!r}")
    n = int(math.floor(1.0 / step + 1e-9)) + 1
    # Thresholds as the nearest doubles to the decimals 0, 0.1, ..., 1 (i*0.1 would give
    # 0.6000000000000001 and exclude alpha = 0.6 = 153/255, which DIM's single-precision
    # comparison includes).
    thresholds = np.round(np.arange(n) * step, 12)
    l_map = np.full(p.shape, -1.0)
    for i in range(1, n):
        omega = _largest_component((p >= thresholds[i]) & (g >= thresholds[i]))
        l_map[(l_map == -1.0) & ~omega] = thresholds[i - 1]
    l_map[l_map == -1.0] = 1.0
    pred_d = p - l_map
    gt_d = g - l_map
    pred_phi = 1.0 - pred_d * (pred_d >= 0.15)
    gt_phi = 1.0 - gt_d * (gt_d >= 0.15)
    return float(np.abs(pred_phi - gt_phi)[m].sum()) / 1000.0


# ----------------------------------------------------------------------------- all four


def evaluate(pred, gt, trimap=None, band: int | None = None) -> dict[str, float]:
    """All four metrics over :func:`region_mask` ``(gt, trimap, band)``:
    ``{"sad": ..., "mse": ..., "grad": ..., "conn": ...}`` (SAD, Grad, Conn divided by 1000)."""
    p, g = _pair(pred, gt)
    m = region_mask(g, trimap=trimap, band=band)
    return {
        "sad": sad(p, g, m),
        "mse": mse(p, g, m),
        "grad": gradient_error(p, g, m),
        "conn": connectivity_error(p, g, m),
    }
