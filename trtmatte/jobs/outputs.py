"""Output safety, the job's rule before any inference: no input is ever overwritten, and an output
that cannot be written is found in one line before the first image is matted, not after.

* ``-o`` equal to an input file, an input folder or a glob's base folder is refused, naming both.
* ``-o`` strictly inside an input folder (``matte d -o d/out``) is allowed and left out of the
  inputs, so a second run does not read the first run's outputs (no ``d/out/out``).
* Every target is checked against the inputs: one that is a file read as input in this run, or an
  existing file the inputs would read, fails alone in one line (``matte d/sub -o d`` where
  ``d/sub/sub/x.png`` would write ``d/sub/x.png``).
* The output's location is probed by creating (and removing) a temporary file in its nearest
  existing folder: permission bits lie to root and on read-only or virtual file systems
  (``/proc``, ``/sys``); creating a file does not.
* The suffix of a one-file output fits what is written (an image type for an image, a video
  container for a video; a cutout needs a format with an alpha channel).
"""
from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path
from typing import Sequence

from ..errors import TrtmatteError
from ..media.image import IMAGE_SUFFIXES

GLOB_MAGIC = set("*?[")
STDIO = "-"  # stdin as the input, stdout as the output
# formats whose files keep an alpha channel (the rgba cutout); JPEG, BMP and GIF do not (well)
ALPHA_SUFFIXES = (".png", ".webp", ".tif", ".tiff")
VIDEO_OUTPUT_TYPES = ("alpha", "composite")


def real(path: str | os.PathLike) -> Path:
    """Absolute, symlinks resolved (``-o link_to_d`` is ``d``), whether or not it exists."""
    return Path(os.path.realpath(os.fspath(path)))


def is_glob(text: str) -> bool:
    return bool(GLOB_MAGIC & set(text))


def glob_base(text: str) -> Path:
    """The folder above a glob's first wildcard ('shots/**/*.jpg' -> 'shots')."""
    parts = Path(text).parts
    first = next(i for i, p in enumerate(parts) if GLOB_MAGIC & set(p))
    return Path(*parts[:first]) if first else Path(".")


def _inside(path: Path, folder: Path) -> bool:
    return path != folder and folder in path.parents


class OutputGuard:
    """What one run reads, to keep what it writes away from it. ``check()`` raises for an output
    that is an input; ``excluded`` is the output folder to leave out of the inputs (or None);
    ``overwrites_input(target)`` says why a target must not be written (or None)."""

    def __init__(self, inputs: Sequence[str], output: str | os.PathLike, extensions: tuple[str, ...]):
        self.output_text = os.fspath(output)
        self.output = real(output)
        self.extensions = extensions
        self.files: dict[Path, str] = {}  # real path -> as typed
        self.folders: dict[Path, str] = {}
        self.globs: list[str] = []
        for text in inputs:
            if text == STDIO:
                continue
            if is_glob(text):
                self.globs.append(text)
                self.folders.setdefault(real(glob_base(text)), text)
            elif Path(text).is_dir():
                self.folders.setdefault(real(text), text)
            else:
                self.files.setdefault(real(text), text)
        self.read: set[Path] = set()  # sources handed out so far (real paths)
        self._glob_matches: dict[str, set[Path]] = {}
        self.excluded = next((self.output for folder in self.folders if _inside(self.output, folder)), None)

    def check(self) -> None:
        """One line, before anything is read, if ``-o`` is an input or contains one."""
        out = self.output
        if out in self.files:
            raise TrtmatteError(f"-o {self.output_text} is the input file {self.files[out]}: choose another output "
                                "(an input is never overwritten)")
        if out in self.folders:
            raise TrtmatteError(f"-o {self.output_text} is the input folder {self.folders[out]}: choose another "
                                f"folder, e.g. -o {Path(self.output_text) / 'mattes'} (an output folder inside the "
                                "input folder is left out of the inputs)")

    def leave_out(self, folder: Path) -> bool:
        """Whether a folder met while walking the inputs is the output folder (not an input)."""
        return self.excluded is not None and real(folder) == self.excluded

    def overwrites_input(self, source: Path, target: Path) -> str | None:
        """Why ``target`` must not be written (it is an input of this run), or None. Records
        ``source`` as read."""
        self.read.add(real(source))
        t = real(target)
        if t in self.read or t in self.files or (t.exists() and self._would_read(t)):
            return (f"{source}: its output {target} would overwrite an input of this run: choose another -o "
                    "(nothing overwritten)")
        return None

    def _would_read(self, path: Path) -> bool:
        if self.excluded is not None and (path == self.excluded or self.excluded in path.parents):
            return False
        if path.suffix.lower() not in self.extensions:
            return False
        for folder, text in self.folders.items():
            if text in self.globs:
                continue
            if folder in path.parents and not any(p.startswith(".") for p in path.relative_to(folder).parts):
                return True
        for text in self.globs:
            if text not in self._glob_matches:
                self._glob_matches[text] = {real(p) for p in glob.iglob(text, recursive=True)}
            if path in self._glob_matches[text]:
                return True
        return False


def probe_writable(location: str | os.PathLike, what: str = "-o") -> None:
    """Create and remove a temporary file in ``location``'s nearest existing folder; one line if
    that fails (``-o /proc/x``, a read-only disk, a folder of someone else's)."""
    location = Path(location)
    folder = location if location.is_dir() else location.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise TrtmatteError(f"cannot write {what} {location}: {folder} is a file, not a folder (choose another {what})")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".trtmatte-probe-", suffix=".part", dir=folder)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TrtmatteError(f"cannot write {what} {location}: creating a file in {folder} fails ({reason}): "
                            f"choose another {what}") from None
    os.close(fd)
    os.unlink(tmp)


def check_suffix(source: str, target: str | os.PathLike, output_type: str, video: bool) -> None:
    """One line if a one-file output's suffix cannot hold what is written."""
    from ..media.video import VIDEO_SUFFIXES

    suffix = Path(target).suffix.lower()
    if video:
        if suffix not in VIDEO_SUFFIXES:
            raise TrtmatteError(f"-o {target}: {source} is a video, so the output is a video: use a video suffix "
                                f"({', '.join(VIDEO_SUFFIXES)})")
        if output_type not in VIDEO_OUTPUT_TYPES:
            raise TrtmatteError(f"--output-type {output_type} cannot be a video: video output is "
                                f"{' or '.join(VIDEO_OUTPUT_TYPES)}")
        return
    if suffix not in IMAGE_SUFFIXES:
        raise TrtmatteError(f"-o {target}: {suffix or 'no suffix'} is not an image type: use .png (or "
                            f"{', '.join(IMAGE_SUFFIXES[1:6])}, ...)")
    if output_type == "rgba" and suffix not in ALPHA_SUFFIXES:
        raise TrtmatteError(f"-o {target}: {suffix} has no alpha channel for --output-type rgba: use "
                            f"{' or '.join(ALPHA_SUFFIXES[:2])}")
