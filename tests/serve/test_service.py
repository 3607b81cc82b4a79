"""The serving logic without Triton: checks per request, one run per image size, replies in order."""
from __future__ import annotations

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError
from trtmatte.serve.service import MattingService, Request


class RecordingModel:
    """Stands in for a Matter: alpha = mean of the RGB channels / 255 (so every pixel is checkable),
    and it records the batch shapes it was called with."""

    def __init__(self, fail_on: tuple[int, int] | None = None):
        self.calls: list[tuple[int, ...]] = []
        self.fail_on = fail_on

    def __call__(self, images, trimap=None):
        self.calls.append(images.shape)
        if self.fail_on == images.shape[1:3]:
            raise TrtmatteError("this size is outside the engine's profile")
        alpha = images.astype(np.float32).mean(-1) / 255.0
        return alpha if trimap is None else np.where(trimap == 255, 1.0, alpha)


def picture(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, (1, h, w, 3), dtype=np.uint8)


def expected(images):
    return np.rint(images.astype(np.float32).mean(-1)).astype(np.uint8)


def test_mixed_sizes_run_as_one_batch_per_size_and_replies_keep_request_order():
    model = RecordingModel()
    service = MattingService(model)
    requests = [Request(picture(*hw, i)) for i, hw in enumerate([(8, 8), (8, 12), (8, 8), (12, 8), (8, 12)])]
    requests[2] = Request(np.concatenate([picture(8, 8, 10), picture(8, 8, 11)]))  # a request with batch 2
    replies = service.handle(requests)
    assert sorted(model.calls) == sorted([(3, 8, 8, 3), (2, 8, 12, 3), (1, 12, 8, 3)])  # never padded or mixed
    for request, reply in zip(requests, replies):
        assert reply.error is None
        np.testing.assert_allclose(reply.alpha.astype(int), expected(request.images).astype(int), atol=1)
    assert service.served == 6


def test_a_bad_request_is_answered_with_its_own_error_and_the_rest_are_served():
    service = MattingService(RecordingModel(), max_pixels=100)
    good = Request(picture(8, 8, 0))
    bad = [Request(np.zeros((1, 0, 8, 3), np.uint8)), Request(picture(11, 10, 1)),
           Request(np.zeros((1, 8, 8, 3), np.float32)), Request(picture(8, 8, 2), trimap=np.zeros((1, 8, 8), np.uint8))]
    replies = service.handle([bad[0], good, bad[1], bad[2], bad[3]])
    assert replies[1].error is None and replies[1].alpha.shape == (1, 8, 8)
    errors = [replies[i].error for i in (0, 2, 3, 4)]
    assert "image is empty" in errors[0]
    assert "10x11 = 0.0 MP, over this server's limit" in errors[1] and "--max-pixels" in errors[1]
    assert "must be uint8" in errors[2]
    assert "trimap-free: drop the input 'trimap'" in errors[3]
    assert all(replies[i].invalid for i in (0, 2, 3, 4))


def test_trimap_models_need_a_matching_trimap():
    service = MattingService(RecordingModel(), needs_trimap=True, model="the adamatting_lite model")
    image = picture(6, 6, 0)
    trimap = np.full((1, 6, 6), 128, np.uint8)
    trimap[0, :2] = 255
    missing, wrong, ok = service.handle([Request(image), Request(image, np.zeros((1, 5, 6), np.uint8)), Request(image, trimap)])
    assert "needs a trimap: send the input 'trimap'" in missing.error
    assert "the size of the image (6x6)" in wrong.error
    assert ok.error is None and (ok.alpha[0, :2] == 255).all()


def test_rgba_on_request_is_the_image_with_alpha_as_fourth_channel():
    service = MattingService(RecordingModel())
    image = picture(5, 7, 3)
    plain, rgba = service.handle([Request(image), Request(image, want_rgba=True)])
    assert plain.rgba is None
    assert rgba.rgba.shape == (1, 5, 7, 4)
    assert (rgba.rgba[..., :3] == image).all() and (rgba.rgba[..., 3] == rgba.alpha).all()


def test_a_failing_run_fails_only_its_size_group():
    service = MattingService(RecordingModel(fail_on=(9, 9)))
    ok, failed = service.handle([Request(picture(8, 8, 0)), Request(picture(9, 9, 1))])
    assert ok.error is None
    assert "outside the engine's profile" in failed.error and not failed.invalid


@pytest.mark.parametrize("shape", [(1, 4, 4), (1, 4, 4, 4)])
def test_wrong_rank_or_channels_is_refused(shape):
    reply, = MattingService(RecordingModel()).handle([Request(np.zeros(shape, np.uint8))])
    assert "image must be uint8 [H, W, 3]" in reply.error


def test_instances_share_the_cores_unless_threads_is_given(monkeypatch):
    """Each Python-backend instance is a process with its own thread pool: N of them split the cores."""
    from trtmatte.serve.python_backend import cpu_threads

    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert cpu_threads({}, 1) is None  # one instance: the library's default pool
    assert [cpu_threads({}, n) for n in (2, 3, 16, 40)] == [8, 5, 1, 1]
    assert cpu_threads({"threads": "6"}, 2) == 6 and cpu_threads({"threads": ""}, 4) == 4


def test_a_batch_runs_in_parts_of_at_most_max_batch_pixels():
    """Memory is bounded per run of the model, not only per image: 5 images of 8x8 (64 pixels each)
    under a 128-pixel bound run as 2 + 2 + 1; an image over the bound still runs, alone."""
    model = RecordingModel()
    service = MattingService(model, max_batch_pixels=128)
    requests = [Request(picture(8, 8, i)) for i in range(3)] + [Request(np.concatenate([picture(8, 8, 7)] * 2))]
    requests.append(Request(picture(12, 12, 9)))  # 144 pixels > 128: alone
    replies = service.handle(requests)
    assert sorted(model.calls) == sorted([(2, 8, 8, 3), (2, 8, 8, 3), (1, 8, 8, 3), (1, 12, 12, 3)])
    for request, reply in zip(requests, replies):
        np.testing.assert_allclose(reply.alpha.astype(int), expected(request.images).astype(int), atol=1)


def test_a_request_without_image_is_refused_by_name():
    reply, = MattingService(RecordingModel()).handle([Request(None, trimap=np.zeros((1, 4, 4), np.uint8))])
    assert reply.invalid and "the request has no input 'image'" in reply.error
