"""Training samples: square crops (image uint8 3xSxS, alpha float 1xSxS) from a composite set on disk
or composed on the fly from synthetic foregrounds and scikit-image backgrounds.

Sample ``i`` is a pure function of (seed, i): every random choice comes from a generator seeded
with both, so a run is reproducible whatever the number of DataLoader workers, and a resumed run
continues with the samples it had not seen (:class:`IndexStream` starts at step x batch).
Augmentation is :mod:`trtmatte.data.augment` (flip, rotation, crops centred on transition
pixels), the paper's recipe. Alpha is quantised to 8-bit levels so the losses' "0 < alpha < 1"
transition test sees exact 0 and 1 on solid pixels, as with the authors' 8-bit mattes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..data import augment
from ..data.calibset import CalibsetOptions, compose_sample, load_sample, read_manifest
from ..errors import TrtmatteError


def _fit(image: np.ndarray, alpha: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize a crop that came out smaller than ``size`` (a small source image) up to size x size."""
    if alpha.shape == (size, size):
        return image, alpha
    import cv2

    return (cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR),
            cv2.resize(alpha, (size, size), interpolation=cv2.INTER_LINEAR))


def _to_sample(image: np.ndarray, alpha: np.ndarray, index: int) -> dict:
    scale = 1.0 if alpha.dtype == np.uint8 else 255.0  # uint8 0..255, or float 0..1
    alpha = alpha.astype(np.float32) * scale
    alpha = np.clip(np.rint(alpha), 0, 255) / 255.0  # 8-bit levels: exact 0 and 1 on solid pixels
    return {"image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
            "alpha": torch.from_numpy(alpha.astype(np.float32)[None]),
            "index": index}


@dataclass(frozen=True)
class AugmentOptions:
    crop: int = 320  # output size, square
    max_angle: float = 15.0  # paper: rotation (docs/design.md: +-15 degrees)
    flip: bool = True
    seed: int = 0

    def check(self) -> None:
        if self.crop < 32 or self.crop % 32:
            raise TrtmatteError(f"--crop must be a multiple of 32 and at least 32 (the encoder's stride), got {self.crop}")
        if not 0 <= self.max_angle <= 90:
            raise TrtmatteError(f"--max-angle must be within 0..90 degrees, got {self.max_angle}")


class CompositeSetDataset(Dataset):
    """A directory written by ``trtmatte calibset`` (or any set with its manifest layout).
    Each draw flips, rotates and crops around a transition pixel afresh."""

    def __init__(self, directory: str | os.PathLike, options: AugmentOptions):
        options.check()
        self.samples = read_manifest(directory)
        self.options = options
        self.description = {"kind": "composite-set", "directory": str(directory), "samples": len(self.samples)}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        o = self.options
        rng = np.random.default_rng([o.seed, index, 0xDA7A])
        image, alpha = load_sample(self.samples[index % len(self.samples)])
        if o.flip and rng.uniform() < 0.5:
            image, alpha = augment.flip(image, alpha)
        angle = float(rng.uniform(-o.max_angle, o.max_angle)) if o.max_angle else 0.0
        image, alpha = augment.rotate(image, alpha, angle, replicate_alpha=True)
        x, y, w, h = augment.crop_around_transition(alpha, o.crop, rng)
        image, alpha = _fit(image[y:y + h, x:x + w], alpha[y:y + h, x:x + w], o.crop)
        return _to_sample(image, alpha, index)


class SyntheticDataset(Dataset):
    """Procedural foregrounds (``trtmatte.data.synthetic``) composited over scikit-image's bundled
    photos by :func:`trtmatte.data.compose_sample`, generated inside the DataLoader workers.

    Each worker draws the ``fg_count`` foregrounds once, lazily, and caches them (and the
    backgrounds), so after warm-up a sample costs a rotation, a composite and a crop. Backgrounds
    are only a few photos, so each draw also takes a random region of its background, flipped and
    colour-scaled: without that the network could learn the backgrounds by heart.
    """

    def __init__(self, options: AugmentOptions, fg_count: int = 64, fg_scale: float = 1.25, split: str = "calib"):
        from ..data.synthetic import skimage_backgrounds, synthetic_foregrounds

        options.check()
        if fg_count < 1:
            raise TrtmatteError(f"--synthetic-count must be at least 1, got {fg_count}")
        self.options = options
        fg_size = max(options.crop, int(round(options.crop * fg_scale)))
        self.foregrounds = synthetic_foregrounds(fg_count, fg_size, options.seed)
        self.backgrounds = skimage_backgrounds(split)
        self.compose = CalibsetOptions(count=1, crop_sizes=(options.crop,), max_side=max(options.crop, fg_size),
                                       max_angle=options.max_angle, flip=options.flip, seed=options.seed)
        self._fg_cache: dict[int, tuple] = {}
        self._bg_cache: dict[int, np.ndarray] = {}
        self.description = {"kind": "synthetic", "foregrounds": len(self.foregrounds), "foreground_size": fg_size,
                            "backgrounds": [b.name for b in self.backgrounds], "split": split}

    def __len__(self) -> int:
        return len(self.foregrounds) * len(self.backgrounds)

    def _foreground(self, k: int):
        if k not in self._fg_cache:
            self._fg_cache[k] = self.foregrounds[k].load()
        return self._fg_cache[k]

    def _background(self, k: int) -> np.ndarray:
        if k not in self._bg_cache:
            self._bg_cache[k] = self.backgrounds[k].load()
        return self._bg_cache[k]

    @staticmethod
    def _jitter(bg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = bg.shape[:2]
        side = rng.uniform(0.4, 1.0)
        ch, cw = max(8, int(h * side)), max(8, int(w * side * rng.uniform(0.8, 1.25)))
        ch, cw = min(ch, h), min(cw, w)
        y, x = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
        region = bg[y:y + ch, x:x + cw]
        if rng.uniform() < 0.5:
            region = region[:, ::-1]
        gain = rng.uniform(0.75, 1.25, 3).astype(np.float32)
        return np.clip(region.astype(np.float32) * gain, 0, 255).astype(np.uint8)

    def __getitem__(self, index: int) -> dict:
        k = index % len(self.foregrounds)
        rng = np.random.default_rng([self.options.seed, index, 0xB6])
        image, alpha, _ = compose_sample(index, self.foregrounds[k], self._foreground(k), self.backgrounds,
                                         lambda j: self._jitter(self._background(j), rng), self.compose)
        image, alpha = _fit(image, alpha, self.options.crop)
        return _to_sample(image, alpha, index)


class IndexStream(Sampler):
    """start, start + 1, ... without end: training draws fresh samples until its steps run out,
    and a resumed run starts where the checkpoint stopped."""

    def __init__(self, start: int = 0):
        self.start = start

    def __iter__(self) -> Iterator[int]:
        i = self.start
        while True:
            yield i
            i += 1


def worker_threads(worker_id: int = 0) -> None:
    """DataLoader worker_init_fn: one OpenCV/torch thread per worker (the workers are the parallelism)."""
    import cv2

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
