"""Writing pictures from a Ray dataset: :class:`WriteOutputs`, a callable for ``map_batches`` after
:class:`~trtmatte.ray.actor.MatteImages`. Every file is written to a temporary name beside its
target and renamed into place (``trtmatte.media.image.write_image`` on local disks; a temporary
object and a move on other pyarrow filesystems), so a task killed mid-write leaves no half file
under a real name, and a retried task rewrites the same name instead of adding a second file.
Names and layout are ``trtmatte matte``'s (trtmatte/ray/listing.py): give each row's ``target``,
or ``folders`` + ``output`` to name it from its ``path``.

:func:`sweep_partials` removes the temporary files a killed writer left in a local output tree.
"""
from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import TrtmatteError

PART = ".part"  # trtmatte.fileio.atomic_output's temporary files: .NAME.XXXXXXXX.part


class WriteOutputs:
    """``picture`` + ``target`` (or ``path`` named via ``folders``/``output``/``output_type``) in;
    ``target``, ``status`` (done / skipped / failed) and ``error`` out. ``skip_existing``: leave
    targets that exist (a rerun resumes). ``filesystem``: a pyarrow filesystem for non-local
    targets (default: from the output URI)."""

    def __init__(self, output: str | None = None, folders: Sequence[str] = (), output_type: str = "alpha",
                 skip_existing: bool = True, filesystem=None):
        self.output, self.folders, self.output_type = output, tuple(folders), output_type
        self.skip_existing = skip_existing
        self.remote = output is not None and "://" in output
        self.fs = filesystem
        if self.remote and self.fs is None:
            from .listing import _filesystem

            self.fs, _ = _filesystem(output)

    def _target(self, batch: dict, i: int) -> str:
        from .listing import relative_to_folders, target_of

        if "target" in batch:
            return str(batch["target"][i])
        if self.output is None or not self.folders:
            raise TrtmatteError("WriteOutputs needs a 'target' column, or output= and folders= to name outputs")
        relative = relative_to_folders(str(batch["path"][i]), self.folders)
        target = target_of(relative, self.output, self.output_type)
        return target.split("://", 1)[-1] if self.remote else target

    def _exists(self, target: str) -> bool:
        if self.fs is None:
            return Path(target).exists()
        from pyarrow.fs import FileType

        return self.fs.get_file_info(target).type != FileType.NotFound

    def _write(self, target: str, picture: np.ndarray) -> None:
        from ..media.image import write_image

        if self.fs is None:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            write_image(target, picture)
            return
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        parent, name = target.rsplit("/", 1) if "/" in target else ("", target)
        tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:8]}{PART}" if parent else f".{name}.{uuid.uuid4().hex[:8]}{PART}"
        if parent:
            self.fs.create_dir(parent, recursive=True)
        try:
            with self.fs.open_output_stream(tmp) as stream:
                stream.write(buffer.getvalue())
            self.fs.move(tmp, target)
        except BaseException:
            try:
                self.fs.delete_file(tmp)
            except Exception:
                pass
            raise

    def __call__(self, batch: dict) -> dict:
        from ..jobs.matte_job import describe

        n = len(batch["picture"])
        errors = batch.get("error")
        targets, status, messages = [], [], []
        for i in range(n):
            target = self._target(batch, i)
            targets.append(target)
            if errors is not None and errors[i]:
                status.append("failed")
                messages.append(str(errors[i]))
                continue
            if self.skip_existing and self._exists(target):
                status.append("skipped")
                messages.append("")
                continue
            try:
                self._write(target, np.asarray(batch["picture"][i]))
            except Exception as exc:
                status.append("failed")
                messages.append(describe(exc, Path(str(batch["path"][i]) if "path" in batch else target)))
                continue
            status.append("done")
            messages.append("")
        keep = {k: v for k, v in batch.items() if k not in ("picture", "error", "target")}
        return {**keep, "target": np.array(targets, dtype=object), "status": np.array(status, dtype=object),
                "error": np.array(messages, dtype=object)}


def sweep_partials(targets: Sequence[str | os.PathLike]) -> int:
    """Remove the temporary files (``.NAME.*.part``) a killed writer left beside ``targets``
    (local paths); each folder is listed once. Returns how many were removed."""
    by_folder: dict[Path, set[str]] = {}
    for target in targets:
        target = Path(target)
        by_folder.setdefault(target.parent, set()).add(target.name)
    removed = 0
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") and entry.name.endswith(PART):
                stem = entry.name[1:-len(PART)].rsplit(".", 1)[0]  # .NAME.XXXXXXXX.part -> NAME
                if stem in names:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
    return removed
