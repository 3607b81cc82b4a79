"""From what a user typed (files, folders, globs, videos) to work items: a source and where its
result goes. Lazy: a folder of 10,000 images is walked as it is consumed, one path at a time.

Output names mirror the input tree under the output folder: ``photos/a/b.jpg`` given as the folder
``photos`` becomes ``OUT/a/b.png``; a glob's files keep their path below the glob's first wildcard;
a file named directly becomes ``OUT/<name>.png``. One image into an output with an image suffix is
written to that file.

Output safety (trtmatte/jobs/outputs.py) is checked when the plan is made, before any inference:
``-o`` must not be an input; an output folder inside an input folder is left out of the inputs;
a target that is an input of the run fails alone. Files in folders and globs with a suffix the job
does not read (``.heic``, ``.txt``) become ``unsupported`` items, unless ``--ext`` chose suffixes.

Trimaps (trimap models, ``--trimap PATH_OR_DIR``): one trimap file for one image; or a folder
matched to the images by name: the image's path below its input folder (or glob base, or its
bare name for a file named directly), with any image suffix: ``photos/a/b.jpg`` takes
``TRIMAPS/a/b.png`` (or ``.jpg``, ...). An image without its trimap fails alone, in one line.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ..errors import TrtmatteError
from ..media.image import IMAGE_SUFFIXES
from ..media.video import VIDEO_SUFFIXES, is_video
from .outputs import STDIO, VIDEO_OUTPUT_TYPES, OutputGuard, check_suffix, glob_base, is_glob, probe_writable

UNSUPPORTED = "unsupported"  # a WorkItem's kind for a file the job does not read: named, counted, not run


@dataclass(frozen=True)
class WorkItem:
    source: Path
    target: Path
    kind: str  # "image", "video" or "unsupported" (a suffix the job does not read: named in the summary)
    error: str | None = None  # a planning problem (e.g. two sources, one target): reported, not run
    trimap: Path | None = None  # the image's trimap file (trimap models)


class TrimapFinder:
    """The trimap of each image: ``root`` is one trimap file (for a single image) or a folder
    searched by the image's relative path and stem, with any image suffix. Each folder is listed
    once."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not self.root.exists():
            raise TrtmatteError(f"--trimap {self.root}: no such file or folder")
        self._listed: dict[Path, dict[str, Path]] = {}

    def refresh(self) -> None:
        """Forget the folder listings (watch mode: trimaps may arrive with their images)."""
        self._listed.clear()

    def _stems(self, folder: Path) -> dict[str, Path]:
        if folder not in self._listed:
            found: dict[str, Path] = {}
            if folder.is_dir():
                for entry in sorted(folder.iterdir()):
                    if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
                        found.setdefault(entry.stem, entry)
            self._listed[folder] = found
        return self._listed[folder]

    def find(self, source: Path, relative: Path) -> tuple[Path | None, str | None]:
        """(trimap path, None) or (None, the one-line reason there is none)."""
        if is_video(source):
            return None, f"{source}: a video takes no trimap file (a trimap a frame): use --trimap auto"
        if self.root.is_file():
            return self.root, None
        folder = self.root / relative.parent
        found = self._stems(folder).get(relative.stem)
        if found is None:
            return None, f"{source}: no trimap {folder / relative.stem}.* in --trimap {self.root}"
        return found, None


def kind_of(path: Path) -> str:
    return "video" if is_video(path) else "image"


def normalise_extensions(extensions: Iterable[str] | None) -> tuple[str, ...]:
    """'jpg,png' / ['.JPG', 'png'] -> ('.jpg', '.png'); None -> every image and video suffix."""
    if not extensions:
        return IMAGE_SUFFIXES + VIDEO_SUFFIXES
    out = []
    for text in extensions:
        for ext in text.split(","):
            ext = ext.strip().lower()
            if ext:
                out.append(ext if ext.startswith(".") else f".{ext}")
    if not out:
        raise TrtmatteError("--ext needs at least one suffix, e.g. --ext jpg,png")
    return tuple(dict.fromkeys(out))


def _walk(folder: Path, extensions: tuple[str, ...], others: bool,
          leave_out: Callable[[Path], bool]) -> Iterator[tuple[Path, bool]]:
    """(file, wanted) under ``folder`` in a stable (sorted) order; hidden ones and the output folder
    (``leave_out``) skipped; files with other suffixes only if ``others``."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not leave_out(Path(root) / d))
        for name in sorted(files):
            wanted = Path(name).suffix.lower() in extensions
            if not name.startswith(".") and (wanted or others):
                yield Path(root) / name, wanted


def expand(inputs: Sequence[str], extensions: tuple[str, ...], others: bool = False,
           leave_out: Callable[[Path], bool] = lambda folder: False) -> Iterator[tuple[Path, Path, bool]]:
    """(source, path relative to the output folder, wanted) for every input, lazily; ``others``:
    also the files of folders and globs whose suffix is not wanted (reported as unsupported)."""
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            for found, wanted in _walk(path, extensions, others, leave_out):
                yield found, found.relative_to(path), wanted
        elif is_glob(text):
            base = glob_base(text)
            matched = False
            for name in sorted(glob.iglob(text, recursive=True)):
                found = Path(name)
                if not found.is_file() or any(leave_out(p) for p in found.parents):
                    continue
                wanted = found.suffix.lower() in extensions
                if wanted or (others and not found.name.startswith(".")):
                    matched = True
                    yield found, found.relative_to(base), wanted
            if not matched:
                yield path, Path(path.name), True  # reported as "not found" with the other failures
        else:
            yield path, Path(path.name), True  # a missing file is reported when it is read, the batch goes on


def single_target(inputs: Sequence[str], output: Path) -> bool:
    """Whether ``output`` names the one result file (one input file, output with a file suffix)."""
    if len(inputs) != 1 or output.is_dir() or not output.suffix:
        return False
    only = Path(inputs[0])
    return not only.is_dir() and not is_glob(inputs[0])


def target_suffix(source: Path, output_type: str) -> str:
    if kind_of(source) == "video":
        return source.suffix.lower()
    return ".png"  # lossless, and the only common format that stores rgba cutouts everywhere


def check_output(inputs: Sequence[str], output: str | os.PathLike, output_type: str = "alpha",
                 extensions: Iterable[str] | None = None) -> OutputGuard:
    """The output rules of one run (trtmatte/jobs/outputs.py), checked now, in one line each: not
    an input, writable, a folder for several inputs, a suffix that fits for one. The guard checks
    each target later."""
    if not inputs:
        raise TrtmatteError("no inputs given: name image or video files, folders or globs")
    if STDIO in inputs or os.fspath(output) == STDIO:
        raise TrtmatteError("- (stdin/stdout) is one image or a raw-frame stream, alone: "
                            "trtmatte matte - -o - (see docs/matte.md#pipes)")
    exts = normalise_extensions(extensions)
    output = Path(output)
    guard = OutputGuard(inputs, output, exts)
    guard.check()
    if single_target(inputs, output):
        check_suffix(inputs[0], output, output_type, is_video(inputs[0]))
    else:
        if output.exists() and not output.is_dir():
            raise TrtmatteError(f"several inputs need -o to be an existing directory or a new one, got the file {output}")
        if output.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
            raise TrtmatteError(f"{len(inputs)} inputs (or a folder) need -o to be an existing directory or a new one "
                                f"without a file suffix, got {output}")
    probe_writable(output)
    return guard


def plan_work(inputs: Sequence[str], output: str | os.PathLike, output_type: str = "alpha",
              extensions: Iterable[str] | None = None, trimap: str | os.PathLike | None = None) -> Iterator[WorkItem]:
    """Work items for ``inputs`` into ``output``: a file for one input file, else a folder (made
    when written to); ``trimap``: the trimap file or folder (see the module doc). The arguments and
    the output rules are checked now, before anything is read; the items come lazily."""
    guard = check_output(inputs, output, output_type, extensions)
    output = Path(output)
    finder = TrimapFinder(trimap) if trimap is not None else None
    if finder is not None and finder.root.is_file() and not (len(inputs) == 1 and Path(inputs[0]).is_file()):
        raise TrtmatteError(f"--trimap {finder.root} is one file, for one input image: give a folder of trimaps "
                            "named like the images for several")
    if single_target(inputs, output):
        source = Path(inputs[0])
        return iter([_item(source, output, Path(source.name), finder, guard.overwrites_input(source, output),
                           output_type)])
    return _items(inputs, output, output_type, guard, not extensions, finder)


def _item(source: Path, target: Path, relative: Path, finder: TrimapFinder | None, error: str | None = None,
          output_type: str = "alpha") -> WorkItem:
    trimap = None
    kind = kind_of(source)
    if error is None and kind == "video" and output_type not in VIDEO_OUTPUT_TYPES:
        error = (f"{source}: --output-type {output_type} cannot be a video (video output is "
                 f"{' or '.join(VIDEO_OUTPUT_TYPES)})")
    if finder is not None and error is None:
        trimap, error = finder.find(source, relative)
    return WorkItem(source, target, kind, error, trimap)


def unsupported(source: Path) -> WorkItem:
    return WorkItem(source, source, UNSUPPORTED,
                    f"{source}: unsupported type {source.suffix.lower() or '(no suffix)'}, not read (images: "
                    f"{' '.join(IMAGE_SUFFIXES)}; videos: {' '.join(VIDEO_SUFFIXES)})")


def _items(inputs: Sequence[str], output: Path, output_type: str, guard: OutputGuard, others: bool,
           finder: TrimapFinder | None = None) -> Iterator[WorkItem]:
    seen: dict[Path, Path] = {}  # target -> source: two sources must not overwrite each other
    for source, relative, wanted in expand(inputs, guard.extensions, others, guard.leave_out):
        if not wanted:
            yield unsupported(source)
            continue
        target = output / relative.with_suffix(target_suffix(source, output_type))
        error = guard.overwrites_input(source, target)
        if error is None and target in seen:
            error = f"{source} and {seen[target]} would both write {target}: rename one or process it separately"
        seen.setdefault(target, source)
        yield _item(source, target, relative, finder, error, output_type)
