"""What the Triton model does with a list of requests, without Triton: check each request, run
same-shaped images as one batch, and answer each request with its α (or its own error).

Triton's dynamic batcher hands a Python-backend model a *list* of requests (it does not concatenate
them). The inputs are configured ragged, so one list may hold several sizes; the model groups it
by shape and runs one batch per size, at most ``max_batch_pixels`` per run (working memory is
bounded per run, not only per image): images of different sizes are never padded into one batch. Padding would change α near the
padded border (the network sees the padding) and cost compute on the padded pixels; the
measurement is `benchmarks/bench_serve.py --padding`, figures in docs/serving.md.

A bad request (zero-sized, over ``max_pixels``, a trimap for a trimap-free model, a missing one for
a trimap model) gets an error naming the problem and the rest of the list is still served.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..compose import to_uint8
from ..errors import TrtmatteError

DEFAULT_MAX_PIXELS = 4096 * 4096  # 16.8 MP: a 4K frame fits, a decompression bomb does not
# Pixels run in one call of the model: Triton hands over up to max_batch_size requests at once, and
# a model's working memory grows with the pixels of the batch (the bundled model on onnxruntime,
# CPU: about 3 GB per MP in batches of 512x512, 2 GB for one 1024x1024 image; measured in
# benchmarks/bench_serve_memory.py). 0.75 MP: eight 256x256 images in one run, a 1024x1024 photo alone.
DEFAULT_MAX_BATCH_PIXELS = 1024 * 768


@dataclass
class Request:
    """One inference request: ``images`` uint8 [B, H, W, 3] (B >= 1, as Triton's batched input),
    ``trimap`` uint8 [B, H, W] or None, and whether the RGBA cutout is wanted."""

    images: np.ndarray | None  # None: the request had no 'image' (refused by name)
    trimap: np.ndarray | None = None
    want_rgba: bool = False


@dataclass
class Reply:
    alpha: np.ndarray | None = None  # uint8 [B, H, W]
    rgba: np.ndarray | None = None  # uint8 [B, H, W, 4]: the image with α as its alpha channel
    error: str | None = None
    invalid: bool = False  # the request was bad (HTTP 400), not the server (500)


@dataclass
class MattingService:
    """``run(images, trimap)`` is a :class:`trtmatte.Matter` (or any callable with its contract:
    uint8 [N, H, W, 3] (+ trimap) -> float α [N, H, W])."""

    run: Callable[..., np.ndarray]
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_batch_pixels: int = DEFAULT_MAX_BATCH_PIXELS  # pixels per run of the model; a larger image runs alone
    needs_trimap: bool = False
    model: str = "this model"
    served: int = field(default=0, init=False)  # images answered (not errors): for logs and tests

    def check(self, request: Request) -> None:
        images, trimap = request.images, request.trimap
        if images is None:
            raise TrtmatteError("the request has no input 'image': send the picture as 'image', uint8 [B, H, W, 3] RGB "
                                "(a trimap alone is not enough)")
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise TrtmatteError(f"image must be uint8 [H, W, 3] RGB (batched [B, H, W, 3]), got {images.dtype} "
                                f"{list(images.shape)}")
        batch, height, width = images.shape[:3]
        if 0 in (batch, height, width):
            raise TrtmatteError(f"image is empty ({height}x{width}, batch {batch}): send an H x W x 3 uint8 picture")
        if height * width > self.max_pixels:
            raise TrtmatteError(f"image is {width}x{height} = {height * width / 1e6:.1f} MP, over this server's limit "
                                f"of {self.max_pixels / 1e6:.1f} MP: downscale it, or restart the server with a "
                                "larger --max-pixels")
        if trimap is None:
            if self.needs_trimap:
                raise TrtmatteError(f"{self.model} needs a trimap: send the input 'trimap' (uint8 [H, W]: 0 "
                                    "background, 128 unknown, 255 foreground)")
            return
        if not self.needs_trimap:
            raise TrtmatteError(f"{self.model} is trimap-free: drop the input 'trimap'")
        if trimap.dtype != np.uint8 or tuple(trimap.shape) != (batch, height, width):
            raise TrtmatteError(f"trimap must be uint8 [H, W] the size of the image ({height}x{width}), got "
                                f"{trimap.dtype} {list(trimap.shape[1:])}")

    def handle(self, requests: list[Request]) -> list[Reply]:
        replies = [Reply() for _ in requests]
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            try:
                self.check(request)
            except TrtmatteError as exc:
                replies[i].error, replies[i].invalid = str(exc), True
                continue
            key = (request.images.shape[1:3], request.trimap is not None)
            groups.setdefault(key, []).append(i)
        for members in groups.values():
            self._run_group([requests[i] for i in members], [replies[i] for i in members])
        return replies

    def _run_group(self, requests: list[Request], replies: list[Reply]) -> None:
        images = np.concatenate([r.images for r in requests]) if len(requests) > 1 else requests[0].images
        trimap = None
        if requests[0].trimap is not None:
            trimap = np.concatenate([r.trimap for r in requests]) if len(requests) > 1 else requests[0].trimap
        # at most max_batch_pixels per run (at least one image): working memory is bounded per run
        step = max(1, self.max_batch_pixels // (images.shape[1] * images.shape[2]))
        try:
            alpha = np.concatenate([to_uint8(self.run(images[i:i + step]) if trimap is None
                                             else self.run(images[i:i + step], trimap[i:i + step]))
                                    for i in range(0, len(images), step)])
        except TrtmatteError as exc:  # e.g. an engine's profile does not cover this size: each request says so
            for reply in replies:
                reply.error = str(exc)
            return
        start = 0
        for request, reply in zip(requests, replies):
            stop = start + len(request.images)
            reply.alpha = alpha[start:stop]
            if request.want_rgba:
                reply.rgba = np.concatenate([request.images, reply.alpha[..., None]], axis=-1)
            start = stop
        self.served += len(images)
