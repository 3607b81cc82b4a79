"""README's picture of the bundled demo model's mattes on real photos (scikit-image's bundled
astronaut, chelsea, coffee, rocket) and on held-out synthetic composites, with the PyTorch CPU
backend.  Usage: python docs/make_demo_figure.py docs/demo_mattes.jpg [HELDOUT_DIR]"""
from __future__ import annotations

import sys

import cv2
import numpy as np

from trtmatte.checkpoints.bundled import default_weights
from trtmatte.checkpoints.native import load_model
from trtmatte.data.synthetic import skimage_image
from trtmatte.runtime import TorchSession

TILE = 192


def tile(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    s = TILE / max(h, w)
    image = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
    canvas = np.full((TILE, TILE, 3), 255, np.uint8)
    canvas[: image.shape[0], : image.shape[1]] = image if image.ndim == 3 else image[..., None]
    return canvas


def main(out: str, heldout: str | None = None) -> None:
    model, info = load_model(default_weights())
    session = TorchSession(model, info.preprocessing, info.variant)
    images = [skimage_image(n) for n in ("astronaut", "chelsea", "coffee", "rocket")]
    truths = [None] * len(images)
    if heldout:
        from trtmatte.data import load_sample, read_manifest

        for sample in read_manifest(heldout)[:3]:
            image, alpha = load_sample(sample)
            images.append(image)
            truths.append(alpha)
    columns = []
    for image, truth in zip(images, truths):
        alpha = session.run(image)[0]
        rows = [tile(image), tile((alpha * 255).round().astype(np.uint8))]
        rows.append(tile((truth * 255).round().astype(np.uint8)) if truth is not None else np.full((TILE, TILE, 3), 255, np.uint8))
        columns.append(np.concatenate(rows, 0))
    figure = np.concatenate(columns, 1)
    cv2.imwrite(out, figure[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"wrote {out}: rows = input, predicted alpha, ground truth (composites only)")


if __name__ == "__main__":
    main(*sys.argv[1:])
