"""``--watch``: work items for files as they appear in folders, forever (the caller stops it).

A file is taken once its size and modification time have stayed the same over one poll interval
(so a file still being copied in is not read half-written); files already there count as
appearing at the start. A copy can still pause for longer than that: a file that then fails to
decode is held (the job neither counts nor reports it, see ``MatteJob(retry=)``) and taken again
as soon as its size or mtime changes; if it stays unchanged for ``give_up`` seconds (30 by
default) it fails with one line. The output rules are the batch's (trtmatte/jobs/outputs.py).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ..errors import TrtmatteError
from .inputs import TrimapFinder, WorkItem, _item, check_output, expand, target_suffix, unsupported
from .outcomes import Outcome

GIVE_UP_S = 30.0  # an unreadable file unchanged this long is a failure, not a copy in progress


@dataclass
class _Held:
    item: WorkItem
    error: str
    stamp: tuple[int, int]  # (size, mtime_ns) when it failed
    since: float


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:  # gone again
        return None
    return st.st_size, st.st_mtime_ns


class Watch:
    """Batches of work items (lists) for files appearing in ``folders``; an iterator that never
    ends. ``retry(outcome)`` is the job's hook: it holds an unreadable file for another try."""

    def __init__(self, folders: Sequence[str], output: str | os.PathLike, output_type: str = "alpha",
                 extensions: Iterable[str] | None = None, interval: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep, trimap: str | os.PathLike | None = None,
                 give_up: float = GIVE_UP_S, clock: Callable[[], float] = time.monotonic):
        for folder in folders:
            if not Path(folder).is_dir():
                raise TrtmatteError(f"--watch needs folders to watch, got {folder}")
        self.guard = check_output(folders, output, output_type, extensions)
        self.folders, self.output, self.output_type = list(folders), Path(output), output_type
        self.others = not extensions
        self.interval, self.sleep, self.give_up, self.clock = interval, sleep, give_up, clock
        self.finder = TrimapFinder(trimap) if trimap is not None else None
        self.seen: dict[Path, tuple[int, int]] = {}  # last (size, mtime) of files not taken yet
        self.taken: set[Path] = set()
        self.held: dict[Path, _Held] = {}

    def retry(self, outcome: Outcome) -> bool:
        """Hold ``outcome``'s file (it failed to decode) to try it again when it changes."""
        stamp = _stamp(outcome.item.source)
        if stamp is None or outcome.item.error:
            return False
        self.held[outcome.item.source] = _Held(outcome.item, outcome.error, stamp, self.clock())
        return True

    def __iter__(self) -> Iterator[list[WorkItem]]:
        return self

    def __next__(self) -> list[WorkItem]:
        while True:
            ready = self._poll()
            if ready:
                return ready
            self.sleep(self.interval)

    def _poll(self) -> list[WorkItem]:
        ready = []
        now = self.clock()
        for source, relative, wanted in expand(self.folders, self.guard.extensions, self.others, self.guard.leave_out):
            if source in self.taken and source not in self.held:
                continue
            if not wanted:
                self.taken.add(source)
                ready.append(unsupported(source))
                continue
            stamp = _stamp(source)
            if stamp is None:
                continue
            held = self.held.get(source)
            if held is not None:
                if stamp == held.stamp:
                    if now - held.since >= self.give_up:
                        del self.held[source]
                        ready.append(WorkItem(source, held.item.target, held.item.kind,
                                              f"{held.error} (unchanged for {self.give_up:.0f} s: gave up)"))
                    continue
                del self.held[source]  # it changed: still being written; taken again once stable
                self.taken.discard(source)
                self.seen[source] = stamp
                continue
            if stamp[0] and self.seen.get(source) == stamp:
                self.taken.add(source)
                self.seen.pop(source, None)
                if self.finder is not None:
                    self.finder.refresh()
                target = self.output / relative.with_suffix(target_suffix(source, self.output_type))
                ready.append(_item(source, target, relative, self.finder, self.guard.overwrites_input(source, target),
                                   self.output_type))
            else:
                self.seen[source] = stamp
        return ready


def watch(folders: Sequence[str], output: str | os.PathLike, output_type: str = "alpha",
          extensions: Iterable[str] | None = None, interval: float = 1.0,
          sleep: Callable[[float], None] = time.sleep, trimap: str | os.PathLike | None = None,
          give_up: float = GIVE_UP_S, clock: Callable[[], float] = time.monotonic) -> Watch:
    """A :class:`Watch` (the arguments are checked now, in one line each)."""
    return Watch(folders, output, output_type, extensions, interval, sleep, trimap, give_up, clock)
