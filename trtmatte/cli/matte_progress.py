"""`trtmatte matte`'s progress bars and lines: one bar per kind of input present (images; videos,
with a frames bar for the one in progress), with the total and an ETA where the plan is known;
failures and notes as lines above them. Bars go to a terminal only (tqdm's ``disable=None``), so
logs and pipes get the lines alone."""
from __future__ import annotations

import collections
import sys
from typing import TextIO


class Progress:
    def __init__(self, totals: dict[str, int] | None, enabled: bool, say: TextIO):
        """``totals``: items of each kind ("image", "video") when the plan was counted, else None
        (watch mode); ``say``: where notes go (stderr when the picture goes to stdout)."""
        from tqdm import tqdm

        self.tqdm, self.say = tqdm, say
        self.disable = None if enabled else True  # None: a bar on a terminal only
        self.bars: dict[str, object] = {}
        self.frames = None
        kinds = totals or {"image": None}
        for kind, unit in (("image", "img"), ("video", "video")):
            if kind in kinds and (totals is None or totals[kind]):
                self.bars[kind] = tqdm(desc=f"{kind}s", unit=unit, total=kinds[kind], disable=self.disable,
                                       file=sys.stderr, dynamic_ncols=True)

    def report(self, outcome) -> None:
        bar = next(iter(self.bars.values()), None)
        write = bar.write if bar is not None else (lambda text, file=None: print(text, file=file))
        if outcome.status == "failed":
            write(f"trtmatte: error: {outcome.error}", file=sys.stderr)
        elif outcome.status == "unsupported":
            write(f"trtmatte: skipped: {outcome.error}", file=sys.stderr)
        for warning in outcome.warnings:
            write(f"trtmatte: warning: {warning}", file=sys.stderr)
        for note in outcome.notes:
            write(f"note: {note}", file=self.say)
        kind = outcome.item.kind
        if kind in self.bars:
            self.bars[kind].update(1)

    def frame(self, done: int) -> None:
        """A video's frames (a bar of its own, made when the first video starts)."""
        if self.frames is None:
            self.frames = self.tqdm(desc="frames", unit="frame", disable=self.disable, file=sys.stderr,
                                    dynamic_ncols=True, leave=False)
        if done < self.frames.n:  # the next video
            self.frames.reset()
        self.frames.update(done - self.frames.n)

    def close(self) -> None:
        for bar in [*self.bars.values(), self.frames]:
            if bar is not None:
                bar.close()


def count_kinds(items) -> dict[str, int]:
    """Items of each kind in a plan (names only: nothing is decoded)."""
    counts = collections.Counter(item.kind for item in items if not item.error)
    return {"image": counts["image"], "video": counts["video"]}
