"""runtime/session.py: inputs are checked once, in the public entry points, never by a backend; the
deprecated keyword names (slots, graphs) still work, with a DeprecationWarning. No model, < 1 s."""
from __future__ import annotations

import numpy as np
import pytest

from trtmatte.errors import TrtmatteError
from trtmatte.runtime.pipelined import Pipeline, as_submitter
from trtmatte.runtime.session import Batch, InFlightSession, MattingSession, SessionInfo, renamed_keywords

from helpers.fake_cuda import PROFILE, FakeCuda, FakeEngineLayer


class Recorder(MattingSession):
    """Records what reaches the unchecked part."""

    info = SessionInfo("onnxruntime", "fp32", "cpu", "recorder", "0")

    def __init__(self, needs_trimap=False):
        self.needs_trimap, self.seen = needs_trimap, []

    def run_impl(self, images, trimap):
        self.seen.append((images.shape, None if trimap is None else trimap.shape))
        return np.zeros(images.shape[:3], np.float32)


class InFlightRecorder(InFlightSession):
    info = Recorder.info
    contexts = 2

    def __init__(self):
        self.seen, self.results = [], {}

    def submit_impl(self, context, images, trimap):
        self.seen.append(images.shape)
        self.results[context] = np.ones(images.shape[:3], np.float32)

    def collect(self, context):
        return self.results.pop(context)


def test_run_checks_once_then_calls_the_unchecked_part():
    s = Recorder()
    assert s.run(np.zeros((4, 5, 3), np.uint8)).shape == (1, 4, 5)  # one image is a batch of one
    assert s.seen == [((1, 4, 5, 3), None)]
    for bad, match in [(np.zeros((4, 5, 3), np.float32), "uint8"), (np.zeros((1, 4, 5), np.uint8), r"\[N, H, W, 3\]")]:
        with pytest.raises(TrtmatteError, match=match):
            s.run(bad)
    with pytest.raises(TrtmatteError, match="trimap"):
        s.run(np.zeros((1, 4, 5, 3), np.uint8), np.zeros((1, 4, 5), np.uint8))
    assert len(s.seen) == 1  # nothing bad reached run_impl


def test_trimap_sessions_get_checked_trimaps_and_raw_outputs_are_opt_in():
    s = Recorder(needs_trimap=True)
    with pytest.raises(TrtmatteError, match="trimap"):
        s.run(np.zeros((1, 4, 5, 3), np.uint8))
    s.run(np.zeros((1, 4, 5, 3), np.uint8), np.full((1, 4, 5), 128, np.uint8))
    assert s.seen == [((1, 4, 5, 3), (1, 4, 5))]
    with pytest.raises(TrtmatteError, match="Recorder has no raw outputs"):
        s.run_raw(np.zeros((1, 4, 5, 3), np.uint8), np.full((1, 4, 5), 128, np.uint8))


def test_in_flight_sessions_check_in_submit_and_run_through_it():
    s = InFlightRecorder()
    with pytest.raises(TrtmatteError, match="uint8"):
        s.submit(0, np.zeros((1, 4, 5, 3), np.float32))
    assert s.run(np.zeros((4, 5, 3), np.uint8)).shape == (1, 4, 5)
    results = list(Pipeline(as_submitter(s)).run([np.zeros((1, 2, 2, 3), np.uint8), Batch(np.zeros((1, 4, 4, 3)))]))
    assert [r.ok for r in results] == [True, False] and "uint8" in str(results[1].error)
    assert s.seen == [(1, 4, 5, 3), (1, 2, 2, 3)]


def test_deprecated_keywords_warn_and_keep_working():
    with pytest.warns(DeprecationWarning, match="'slots' is deprecated, use 'contexts'"):
        session = _old_keywords_session()
    assert session.contexts == 2
    with pytest.warns(DeprecationWarning, match="'slots' is deprecated"):
        assert session.slots == 2

    @renamed_keywords
    def options(*, contexts=1, cuda_graphs=False):
        return contexts, cuda_graphs

    with pytest.warns(DeprecationWarning, match="'graphs' is deprecated, use 'cuda_graphs'"):
        assert options(graphs=True) == (1, True)
    with pytest.raises(TypeError, match="both 'slots' and 'contexts'"):
        options(slots=2, contexts=2)


def _old_keywords_session():
    from trtmatte.runtime.tensorrt_session import TensorRTSession

    cuda = FakeCuda()
    info = SessionInfo("tensorrt", "fp32", "fake GPU", "tiny", "fake")
    return TensorRTSession(FakeEngineLayer(cuda, PROFILE, 1), slots=2, cuda=cuda, profile=PROFILE, info=info)
