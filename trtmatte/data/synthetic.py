"""A synthetic source of training composites, for tests and the demo model: procedural
foregrounds with the edges matting is about (soft outlines, hair-like strands, semi-transparent
veils), scikit-image's RGBA ``logo`` as one real foreground+alpha, and real backgrounds from the
photos and textures scikit-image bundles. Nothing is downloaded.

The backgrounds are split in two disjoint lists, so a held-out evaluation set never shares a
background with the calibration or training set.
"""
from __future__ import annotations

import numpy as np

from .._lazy import require
from .sources import Item

BACKGROUNDS = {
    "calib": ("astronaut", "coffee", "rocket", "hubble_deep_field", "brick", "grass", "camera",
              "stereo_motorcycle:left"),
    "heldout": ("chelsea", "immunohistochemistry", "retina", "gravel", "moon", "clock",
                "stereo_motorcycle:right"),
}
SPLITS = tuple(BACKGROUNDS)
# Colour sources for the procedural foregrounds' bodies (tinted and flipped per foreground).
TEXTURES = ("colorwheel", "coffee", "astronaut", "brick", "gravel", "immunohistochemistry")


def skimage_image(name: str) -> np.ndarray:
    """uint8 HxWx3 RGB of a bundled scikit-image picture ("stereo_motorcycle:left" picks one of a tuple)."""
    data = require("skimage.data", "the bundled sample photos (pip install 'trtmatte[data]')")
    base, _, part = name.partition(":")
    image = getattr(data, base)()
    if isinstance(image, tuple):
        image = image[{"left": 0, "right": 1}[part]]
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (image * 255).astype(np.uint8) if image.max() <= 1 else image.astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3])


def skimage_backgrounds(split: str = "calib") -> list[Item]:
    return [Item(f"skimage:{name}", lambda name=name: skimage_image(name)) for name in BACKGROUNDS[split]]


def logo_foreground() -> Item:
    def load():
        data = require("skimage.data", "the bundled sample photos (pip install 'trtmatte[data]')")
        rgba = np.asarray(data.logo())
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    return Item("skimage:logo", load)


def procedural_foreground(seed: int, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(fg uint8 size x size x 3, alpha uint8 size x size), a pure function of (seed, index, size).

    Drawn at 2x and area-downsampled, so every edge is anti-aliased: a body (random star-shaped
    polygon, blurred by a random 0.5-4 px: sharp to soft outlines), 40-250 one-pixel strands
    curling outwards from the body's edge with partial opacity (hair), and sometimes an ellipse of
    constant alpha 0.25-0.7 (a veil or glass).
    """
    cv2 = require("cv2", "synthetic foregrounds (pip install opencv-python-headless)")
    rng = np.random.default_rng([seed, index, 0x5EED])
    s2 = 2 * size
    centre = rng.uniform(0.4, 0.6, 2) * s2
    n = int(rng.integers(5, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.18, 0.32) * s2 * rng.uniform(0.55, 1.0, n)
    polygon = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], 1)
    body = np.zeros((s2, s2), np.float32)
    cv2.fillPoly(body, [np.round(polygon * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    body = cv2.GaussianBlur(body, (0, 0), float(rng.uniform(0.5, 4.0)) * 2)

    hair = np.zeros_like(body)
    for _ in range(int(rng.integers(40, 250))):
        k = int(rng.integers(n))
        t = rng.uniform()
        start = polygon[k] * (1 - t) + polygon[(k + 1) % n] * t
        direction = np.arctan2(*(start - centre)[::-1]) + rng.normal(0, 0.4)
        points, heading = [start], direction
        for _ in range(int(rng.integers(4, 14))):
            heading += rng.normal(0, 0.25)
            points.append(points[-1] + rng.uniform(4, 14) * np.array([np.cos(heading), np.sin(heading)]))
        cv2.polylines(hair, [np.round(np.array(points) * 16).astype(np.int32)], False,
                      float(rng.uniform(0.35, 1.0)), thickness=1, lineType=cv2.LINE_AA, shift=4)

    veil = np.zeros_like(body)
    if rng.uniform() < 0.6:
        axes = (int(rng.uniform(0.1, 0.3) * s2), int(rng.uniform(0.1, 0.3) * s2))
        where = tuple(int(v) for v in (centre + rng.normal(0, 0.15 * s2, 2)))
        cv2.ellipse(veil, where, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.25, 0.7)), -1,
                    lineType=cv2.LINE_AA)
        veil = cv2.GaussianBlur(veil, (0, 0), 3.0)

    alpha = np.maximum(np.maximum(body, hair), veil)
    alpha = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)
    hair_share = cv2.resize(hair / np.maximum(alpha.max(), 1e-6), (size, size), interpolation=cv2.INTER_AREA)

    texture = skimage_image(TEXTURES[int(rng.integers(len(TEXTURES)))]).astype(np.float32)
    texture = cv2.resize(texture, (size, size), interpolation=cv2.INTER_AREA)
    if rng.uniform() < 0.5:
        texture = texture[::-1]
    colour = texture * rng.uniform(0.5, 1.3, 3).astype(np.float32)
    hair_colour = rng.uniform(0, 255, 3).astype(np.float32)
    w = np.clip(hair_share, 0, 1)[..., None]
    fg = np.clip(colour * (1 - w) + hair_colour * w, 0, 255)
    return fg.astype(np.uint8), np.clip(np.rint(alpha * 255), 0, 255).astype(np.uint8)


def synthetic_foregrounds(count: int, size: int, seed: int, logo: bool = True) -> list[Item]:
    """``count`` procedural foregrounds of ``size`` px (plus the real scikit-image logo)."""
    items = [Item(f"synthetic:seed{seed}-fg{i:04d}-{size}px",
                  lambda i=i: procedural_foreground(seed, i, size)) for i in range(count)]
    return items + ([logo_foreground()] if logo else [])
