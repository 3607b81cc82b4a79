"""Trimaps for free: a trimap-free Late Fusion session makes the trimap, a trimap-based session
(AdaMatting) mattes with it, behind one trimap-free session interface.

Late Fusion's two decoders bracket alpha (F <= alpha <= 1 - B where they agree; the paper's
Fig. 3), so where both are confident the pixel is known, and everything else is the unknown band
(trtmatte.trimap.auto_trimap; thresholds and dilation in AutoTrimapOptions). F and B come from
the Late Fusion session's raw outputs: a graph or engine exported with ``--debug-outputs``, or a
PyTorch session (which always has them). They are at the network's working size and are resized
to the image's size before thresholding.

The same rule runs inside one exported graph (``trtmatte export --trimap-from``,
trtmatte.models.auto_trimap_pipeline), which needs no second session; this is the one-command path for
models exported separately.
"""
from __future__ import annotations

import numpy as np

from ..errors import TrtmatteError
from ..trimap import AutoTrimapOptions, auto_trimap, resize_probability
from .session import MattingSession, SessionInfo

FG, BG = "fg", "bg"


class AutoTrimapSession(MattingSession):
    needs_trimap = False

    def __init__(self, source: MattingSession, matting: MattingSession,
                 options: AutoTrimapOptions = AutoTrimapOptions()):
        options.check()
        if not getattr(matting, "needs_trimap", False):
            raise TrtmatteError(f"--trimap auto feeds a trimap model, but {matting.info.variant} is trimap-free: "
                                "drop --trimap")
        if getattr(source, "needs_trimap", False) or not getattr(source, "has_raw_outputs", False):
            raise TrtmatteError(f"the trimap model ({source.info.variant}) must be a trimap-free Late Fusion model "
                                "with F and B outputs")
        outputs = _output_names(source)
        if outputs is not None and not {FG, BG} <= set(outputs):
            raise TrtmatteError(self._no_fb(source))
        self.source, self.matting, self.options = source, matting, options
        m = matting.info
        self.info = SessionInfo(m.backend, m.precision, m.device,
                                f"{m.variant} (trimap: auto from {source.info.variant})", m.backend_version)
        self.returns_views = getattr(matting, "returns_views", False)
        self.weights_note = getattr(matting, "weights_note", "")

    def trimaps(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W] trimaps of ``images`` from the Late Fusion session's F and B."""
        images = self.check_images(images)
        raw = self.source.run_raw(images)
        if FG not in raw or BG not in raw:
            raise TrtmatteError(self._no_fb(self.source))
        n, h, w = images.shape[:3]
        return np.stack([auto_trimap(resize_probability(raw[FG][i], h, w), resize_probability(raw[BG][i], h, w),
                                     self.options) for i in range(n)])

    @staticmethod
    def _no_fb(source) -> str:
        return (f"the trimap model ({source.info.variant}) has no F and B outputs: re-export it with "
                "`trtmatte export --debug-outputs`, or give its checkpoint (PyTorch)")

    def run_impl(self, images: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
        return self.matting.run(images, self.trimaps(images))

    def close(self) -> None:
        self.source.close()
        self.matting.close()


def _output_names(session) -> list[str] | None:
    """A graph's or engine's output names; None where the session computes everything (PyTorch)."""
    if hasattr(session, "output_names"):
        return list(session.output_names)
    plan = getattr(session, "plan", None)
    return [b.name for b in plan.outputs] if plan is not None else None
