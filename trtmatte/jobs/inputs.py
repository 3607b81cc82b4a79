"""From what a user typed (files, folders, globs, videos) to work items: a source and where its
result goes. Lazy: a folder of 10,000 images is walked as it is consumed, one path at a time.

Output names mirror the input tree under the output folder: ``photos/a/b.jpg`` given as the folder
``photos`` becomes ``OUT/a/b.png``; a glob's files keep their path below the glob's first wildcard;
a file named directly becomes ``OUT/<name>.png``. One image into an output with an image suffix is
written to that file.

Trimaps (trimap models, ``--trimap PATH_OR_DIR``): one trimap file for one image; or a folder
matched to the images by name: the image's path below its input folder (or glob base, or its
bare name for a file named directly), with any image suffix: ``photos/a/b.jpg`` takes
``TRIMAPS/a/b.png`` (or ``.jpg``, ...). An image without its trimap fails alone, in one line.
"""
from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ..errors import TrtmatteError
from ..imageio import IMAGE_SUFFIXES
from ..video import VIDEO_SUFFIXES, is_video
_GLOB_MAGIC = set("*?[")


@dataclass(frozen=True)
class WorkItem:
    source: Path
    target: Path
    kind: str  # "image" or "video"
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


def _walk(folder: Path, extensions: tuple[str, ...]) -> Iterator[Path]:
    """Files under ``folder`` with a wanted suffix, in a stable (sorted) order, hidden ones skipped."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in extensions:
                yield Path(root) / name


def expand(inputs: Sequence[str], extensions: tuple[str, ...]) -> Iterator[tuple[Path, Path]]:
    """(source, path relative to the output folder) for every input, lazily."""
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            for found in _walk(path, extensions):
                yield found, found.relative_to(path)
        elif _GLOB_MAGIC & set(text):
            parts = Path(text).parts
            stem = next(i for i, p in enumerate(parts) if _GLOB_MAGIC & set(p))
            base = Path(*parts[:stem]) if stem else Path(".")
            matched = False
            for name in sorted(glob.iglob(text, recursive=True)):
                found = Path(name)
                if found.is_file() and found.suffix.lower() in extensions:
                    matched = True
                    yield found, found.relative_to(base)
            if not matched:
                yield path, Path(path.name)  # reported as "not found" with the other failures
        else:
            yield path, Path(path.name)  # a missing file is reported when it is read, the batch goes on


def single_target(inputs: Sequence[str], output: Path) -> bool:
    """Whether ``output`` names the one result file (one input file, output with a file suffix)."""
    if len(inputs) != 1 or output.is_dir() or not output.suffix:
        return False
    only = Path(inputs[0])
    return not only.is_dir() and not (_GLOB_MAGIC & set(inputs[0]))


def target_suffix(source: Path, output_type: str) -> str:
    if kind_of(source) == "video":
        return source.suffix.lower()
    return ".png"  # lossless, and the only common format that stores rgba cutouts everywhere


def plan_work(inputs: Sequence[str], output: str | os.PathLike, output_type: str = "alpha",
              extensions: Iterable[str] | None = None, trimap: str | os.PathLike | None = None) -> Iterator[WorkItem]:
    """Work items for ``inputs`` into ``output``: a file for one input file, else a folder (made
    when written to); ``trimap``: the trimap file or folder (see the module doc). The arguments are
    checked now; the items come lazily."""
    if not inputs:
        raise TrtmatteError("no inputs given: name image or video files, folders or globs")
    exts = normalise_extensions(extensions)
    output = Path(output)
    finder = TrimapFinder(trimap) if trimap is not None else None
    if finder is not None and finder.root.is_file() and not (len(inputs) == 1 and Path(inputs[0]).is_file()):
        raise TrtmatteError(f"--trimap {finder.root} is one file, for one input image: give a folder of trimaps "
                            "named like the images for several")
    if single_target(inputs, output):
        source = Path(inputs[0])
        return iter([_item(source, output, Path(source.name), finder)])
    if output.exists() and not output.is_dir():
        raise TrtmatteError(f"several inputs need -o to be an existing directory or a new one, got the file {output}")
    if output.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        raise TrtmatteError(f"{len(inputs)} inputs (or a folder) need -o to be an existing directory or a new one "
                            f"without a file suffix, got {output}")
    return _items(inputs, output, output_type, exts, finder)


def _item(source: Path, target: Path, relative: Path, finder: TrimapFinder | None, error: str | None = None) -> WorkItem:
    trimap = None
    if finder is not None and error is None:
        trimap, error = finder.find(source, relative)
    return WorkItem(source, target, kind_of(source), error, trimap)


def _items(inputs: Sequence[str], output: Path, output_type: str, exts: tuple[str, ...],
           finder: TrimapFinder | None = None) -> Iterator[WorkItem]:
    seen: dict[Path, Path] = {}  # target -> source: two sources must not overwrite each other
    for source, relative in expand(inputs, exts):
        target = output / relative.with_suffix(target_suffix(source, output_type))
        error = None
        if target in seen:
            error = f"{source} and {seen[target]} would both write {target}: rename one or process it separately"
        else:
            seen[target] = source
        yield _item(source, target, relative, finder, error)


def watch(folders: Sequence[str], output: str | os.PathLike, output_type: str = "alpha",
          extensions: Iterable[str] | None = None, interval: float = 1.0,
          sleep: Callable[[float], None] = time.sleep, trimap: str | os.PathLike | None = None) -> Iterator[list[WorkItem]]:
    """Batches of work items for files appearing in ``folders``, forever (the caller stops it).

    A file is taken once its size has stayed the same over one ``interval`` (so a file still being
    copied in is not read half-written); files already there count as appearing at the start."""
    for folder in folders:
        if not Path(folder).is_dir():
            raise TrtmatteError(f"--watch needs folders to watch, got {folder}")
    exts, output = normalise_extensions(extensions), Path(output)
    finder = TrimapFinder(trimap) if trimap is not None else None
    sizes: dict[Path, int] = {}
    taken: set[Path] = set()
    while True:
        ready = []
        for source, relative in expand(folders, exts):
            if source in taken:
                continue
            try:
                size = source.stat().st_size
            except OSError:  # gone again
                continue
            if size and sizes.get(source) == size:
                taken.add(source)
                if finder is not None:
                    finder.refresh()
                ready.append(_item(source, output / relative.with_suffix(target_suffix(source, output_type)),
                                   relative, finder))
            else:
                sizes[source] = size
        if ready:
            yield ready
        else:
            sleep(interval)
