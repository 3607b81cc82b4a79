"""Fault injection for tests/ray/ray_in_netns.py: an actor that says (by a marker file) when it
starts a batch and then holds still until the test has done its damage, so the test kills it or
removes its node mid-batch on that event, not after a guessed sleep."""
from __future__ import annotations

import os
import time
from pathlib import Path

from trtmatte.ray.actor import MatteFiles

HOLD_LIMIT_S = 300  # a safety bound only: the test releases the actor as soon as it has acted


def stalling_actor(markers: str):
    """A MatteFiles whose batches wait, until ``markers``/released exists, after writing
    ``markers``/started-PID (its content: the actor's Ray node id). Defined in a function so
    cloudpickle ships the class by value to workers that cannot import tests/."""

    class StallUntilReleased(MatteFiles):
        MARKERS = markers

        def __call__(self, batch):
            folder = Path(self.MARKERS)
            if not (folder / "released").exists():
                import ray

                tmp = folder / f".{os.getpid()}"
                tmp.write_text(ray.get_runtime_context().get_node_id())
                os.replace(tmp, folder / f"started-{os.getpid()}")  # whole, or not there
                deadline = time.monotonic() + HOLD_LIMIT_S
                while not (folder / "released").exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
            return super().__call__(batch)

    return StallUntilReleased
