"""Which images a Ray run reads, and where each result goes: the names and layout of
``trtmatte matte`` (trtmatte/jobs/inputs.py decides them; nothing here names a file its own way).

* Local folders, globs and files: :func:`work_rows` turns the job's own plan
  (:func:`~trtmatte.jobs.plan_work`) into rows for a Ray dataset, and sorts out beforehand what
  needs no actor: planning failures, and outputs that already exist (a rerun resumes).
* Any filesystem pyarrow understands (``s3://bucket/photos``, ``gs://...``, ``/local/folder``):
  :func:`list_images` lists a folder recursively (hidden files skipped, sorted, image suffixes or
  ``extensions``) into (path, path below the folder); :func:`target_of` names the output the way
  ``trtmatte matte`` does for a folder.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import PurePosixPath
from typing import Iterable, Iterator, Sequence

from ..errors import TrtmatteError


def work_rows(items: Iterable, skip_existing: bool = True) -> Iterator[tuple[str, object]]:
    """('run', row) for each work item an actor must do; else the job's status for an item the
    driver reports itself, as MatteJob would: ('unsupported', item) for a file of a type the job
    does not read, ('failed', item) for a planning failure, ('skipped', item) for an output that
    exists (with ``skip_existing``). A row is a dict of plain strings (``source``, ``target``,
    ``trimap``: "" for none), small enough to hold millions."""
    from ..jobs.inputs import UNSUPPORTED

    for item in items:
        if item.kind == UNSUPPORTED:
            yield "unsupported", item
        elif item.error:
            yield "failed", item
        elif skip_existing and item.target.exists():
            yield "skipped", item
        else:
            yield "run", {"source": str(item.source), "target": str(item.target),
                          "trimap": "" if item.trimap is None else str(item.trimap)}


def _filesystem(uri: str, filesystem=None):
    from .._lazy import require

    fs_module = require("pyarrow.fs", "listing images for trtmatte.ray")
    if filesystem is not None:
        return filesystem, uri
    try:
        return fs_module.FileSystem.from_uri(uri if "://" in uri else os.path.abspath(uri))
    except Exception as exc:  # an unknown scheme, missing credentials: one line
        raise TrtmatteError(f"cannot open {uri}: {str(exc).splitlines()[0]}") from None


def list_images(folder: str, extensions: Iterable[str] | None = None, filesystem=None) -> list[tuple[str, str]]:
    """(path, path below ``folder``) of every image under ``folder``, sorted by the latter;
    ``folder`` is a local path or a URI (``s3://bucket/photos``: the paths are URIs too), or a
    path on ``filesystem``, a pyarrow filesystem to use instead. Hand the paths to
    ``ray.data.read_binary_files(paths, include_paths=True)`` (with ``filesystem=`` if you gave
    one) and :class:`~trtmatte.ray.actor.MatteImages`."""
    from .._lazy import require
    from ..jobs.inputs import normalise_extensions
    from ..media.image import IMAGE_SUFFIXES

    fs_module = require("pyarrow.fs", "listing images for trtmatte.ray")
    fs, root = _filesystem(folder, filesystem)
    scheme = folder.split("://", 1)[0] if "://" in folder and filesystem is None else ""  # URIs in, URIs out
    exts = normalise_extensions(extensions) if extensions else IMAGE_SUFFIXES
    root = root.rstrip("/") or "/"
    info = fs.get_file_info(root)
    if info.type == fs_module.FileType.NotFound:
        raise TrtmatteError(f"{folder}: no such folder")
    if info.type != fs_module.FileType.Directory:
        raise TrtmatteError(f"{folder}: not a folder (list_images lists folders; name files directly)")
    found = []
    for entry in fs.get_file_info(fs_module.FileSelector(root, recursive=True)):
        if entry.type != fs_module.FileType.File:
            continue
        relative = posixpath.relpath(entry.path, root)
        if any(part.startswith(".") for part in PurePosixPath(relative).parts):
            continue  # hidden files and folders, as the job skips them
        if PurePosixPath(relative).suffix.lower() in exts:
            found.append((f"{scheme}://{entry.path}" if scheme else entry.path, relative))
    return sorted(found, key=lambda pair: pair[1])


def target_of(relative: str, output: str, output_type: str = "alpha") -> str:
    """Where ``trtmatte matte FOLDER -o OUTPUT`` writes the result of FOLDER/``relative``."""
    from ..jobs.inputs import target_suffix

    suffix = target_suffix(PurePosixPath(relative), output_type)
    return posixpath.join(output.rstrip("/"), str(PurePosixPath(relative).with_suffix(suffix)))


def relative_to_folders(path: str, folders: Sequence[str]) -> str:
    """``path`` below whichever of ``folders`` holds it (for rows read by ``read_binary_files``,
    whose ``path`` column has no folder of origin)."""
    for folder in folders:
        root = folder.rstrip("/")
        for prefix in (root, root.split("://", 1)[-1]):
            if path.startswith(prefix + "/"):
                return path[len(prefix) + 1:]
    raise TrtmatteError(f"{path} is in none of the listed folders {', '.join(folders)}")
