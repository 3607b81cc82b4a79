"""What a job did, honestly: one outcome per work item, a summary that names what was skipped and
why, and the exit codes of ``trtmatte matte`` (docs/matte.md#exit-codes).

Statuses: ``done``; ``skipped`` (``--skip-existing`` found the output); ``unsupported`` (a file
of a type the job does not read, e.g. ``.heic``: named, counted, never silently dropped);
``failed`` (one line naming the input and the problem).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TrtmatteError
from .inputs import WorkItem

OUTCOMES = ("done", "skipped", "unsupported", "failed")
# Exit codes, one table (docs/matte.md): 2 is argparse's for a usage error.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
NAMED = 3  # the summary names this many unsupported files, then counts the rest


@dataclass(frozen=True)
class Outcome:
    item: WorkItem
    status: str  # one of OUTCOMES
    error: str = ""  # failed / unsupported: the one line
    frames: int = 1  # images count 1; videos their frame count
    notes: tuple[str, ...] = ()  # what a video's encoding decided (audio dropped, odd size, ...)
    unreadable: bool = False  # failed while decoding the input (watch mode retries a file still being written)
    warnings: tuple[str, ...] = ()  # done, but something is wrong (a video's corrupt packets): one line each


@dataclass
class Summary:
    done: int = 0
    skipped: int = 0
    unsupported: int = 0
    failed: int = 0
    images: int = 0  # images done
    frames: int = 0  # video frames done
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    unsupported_files: list[str] = field(default_factory=list)  # the first NAMED
    warnings: list[str] = field(default_factory=list)  # e.g. a video's unreadable packets

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if outcome.status == "done":
            if outcome.item.kind == "video":
                self.frames += outcome.frames
            else:
                self.images += 1
        elif outcome.status == "failed":
            self.failures.append(outcome.error)
        elif outcome.status == "unsupported" and len(self.unsupported_files) < NAMED:
            self.unsupported_files.append(Path(outcome.item.source).name)
        self.warnings.extend(outcome.warnings)

    def merge(self, other: "Summary") -> None:
        for name in ("done", "skipped", "unsupported", "failed", "images", "frames", "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures
        self.warnings += other.warnings
        self.unsupported_files = (self.unsupported_files + other.unsupported_files)[:NAMED]

    @property
    def per_second(self) -> float:
        """Images per second (video frames are counted apart: see ``line``)."""
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        text = (f"done {self.done}, skipped {self.skipped}, failed {self.failed} in {self.seconds:.1f} s "
                f"({self.per_second:.2f} images/s)")
        if self.frames:
            text += f"; {self.frames} video frames ({self.frames / max(self.seconds, 1e-9):.2f} frames/s)"
        if self.unsupported:
            more = self.unsupported - len(self.unsupported_files)
            names = ", ".join(self.unsupported_files) + (f" and {more} more" if more > 0 else "")
            text += f"; skipped {self.unsupported} unsupported ({names})"
        return text

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed else EXIT_OK


class JobInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, which the CLI turns into this) during a job: carries what was done, so
    the summary line is still printed. Outputs in flight were finished or dropped whole."""

    def __init__(self, summary: Summary):
        super().__init__("interrupted")
        self.summary = summary


def describe(error: BaseException, source: Path) -> str:
    """One line naming the input and the problem."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if not isinstance(error, TrtmatteError):
        text = f"{type(error).__name__}: {text}"
    return text if str(source) in text else f"{source}: {text}"
