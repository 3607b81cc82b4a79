"""What one Ray actor does: open one :class:`~trtmatte.runtime.matter.Matter` (once, in the actor's
own process, so a GPU actor holds one engine for its whole life) and turn batches into results.
Two callable classes for ``Dataset.map_batches``; neither imports Ray (Ray imports them):

* :class:`MatteImages`: a batch of images, encoded bytes (column ``bytes``, e.g. from
  ``ray.data.read_binary_files``) or uint8 arrays of any sizes (column ``image``, e.g. from
  ``ray.data.read_images``), into the ``picture`` column: α, an RGBA cutout, F or a composite.
  Images of one size are matted together, one [N, H, W, 3] call per size. A bad image fails alone:
  its ``error`` says why in one line, its ``picture`` is empty.
* :class:`MatteFiles`: a batch of work rows (``source``, ``target``, ``trimap``) through
  :class:`~trtmatte.jobs.MatteJob`, the job ``trtmatte matte`` runs (decode ahead, write behind,
  every file written to a temporary name and renamed), into one outcome row per input. What
  ``trtmatte matte --ray`` runs: the same code writes the same files as without Ray.

``matter`` is a dict of ``Matter`` keyword arguments (``onnx=``, ``engine=``, ``weights=``,
``precision=``, ``device=``, ``threads=``), or a picklable zero-argument callable returning a Matter.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..compose import Background, render
from ..errors import TrtmatteError

def open_matter(matter: Any = None):
    """A Matter from a spec (see the module doc); None: the bundled model on the best backend."""
    if callable(matter):
        return matter()
    from ..runtime.matter import Matter

    return Matter(**(matter or {}))


def check_trimap_use(matter, trimaps_given: bool) -> None:
    """The model and the trimaps must agree (a trimap model needs them, a trimap-free one refuses)."""
    if matter.needs_trimap and not trimaps_given:
        raise TrtmatteError(f"{matter.info.variant} needs a trimap: give --trimap PATH_OR_DIR, or --trimap auto")
    if not matter.needs_trimap and trimaps_given:
        raise TrtmatteError(f"{matter.info.variant} is trimap-free: drop --trimap")


def _texts(column, n: int) -> list[str]:
    return [""] * n if column is None else ["" if v is None else str(v) for v in column]


def _objects(values: list) -> np.ndarray:
    """A 1-D object array of arrays (np.array would try to stack equal shapes)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class MatteImages:
    """Images in, pictures out (see the module doc). Columns kept: everything but ``bytes``,
    ``image`` and ``trimap``; added: ``picture`` (uint8) and ``error`` ("" when it worked)."""

    def __init__(self, matter: Any = None, output_type: str = "alpha", background: Background | None = None,
                 max_pixels: int | None = None):
        from ..compose import OUTPUT_TYPES
        from ..media.image import DEFAULT_MAX_PIXELS

        if output_type not in OUTPUT_TYPES:
            raise TrtmatteError(f"unknown output type {output_type!r}: choose one of {', '.join(OUTPUT_TYPES)}")
        self.matter = open_matter(matter)
        self.output_type, self.background = output_type, background
        self.max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else (max_pixels or None)

    def _decode(self, batch: dict, n: int) -> tuple[list, list, list[str]]:
        from ..media.image import read_rgb, read_trimap
        from ..runtime.matter import as_rgb, as_trimap

        names = _texts(batch.get("path"), n)
        images, trimaps, errors = [None] * n, [None] * n, [""] * n
        for i in range(n):
            label = names[i] or f"image {i}"
            try:
                if "bytes" in batch:
                    images[i] = read_rgb(bytes(batch["bytes"][i]), self.max_pixels, name=label)
                else:
                    images[i] = as_rgb(batch["image"][i])
                if "trimap" in batch:
                    value = batch["trimap"][i]
                    trimaps[i] = (read_trimap(bytes(value), name=label) if isinstance(value, (bytes, bytearray))
                                  else as_trimap(value))
            except Exception as exc:  # one bad image fails alone
                errors[i] = _one_line(exc, label)
        return images, trimaps, errors

    def __call__(self, batch: dict) -> dict:
        if "bytes" not in batch and "image" not in batch:
            raise TrtmatteError("MatteImages needs a 'bytes' column (encoded files) or an 'image' column (arrays)")
        n = len(batch["bytes"] if "bytes" in batch else batch["image"])
        images, trimaps, errors = self._decode(batch, n)
        names = _texts(batch.get("path"), n)
        pictures: list = [np.zeros((0, 0), np.uint8)] * n
        by_size: dict[tuple[int, int], list[int]] = {}
        for i, image in enumerate(images):
            if image is not None:
                by_size.setdefault(image.shape[:2], []).append(i)
        for indices in by_size.values():  # one call per size: a GPU engine takes them as one batch
            stack = np.stack([images[i] for i in indices])
            trimap = np.stack([trimaps[i] for i in indices]) if "trimap" in batch else None
            try:
                alpha = self.matter(stack, trimap)
            except Exception as exc:
                for i in indices:
                    errors[i] = _one_line(exc, names[i] or f"image {i}")
                continue
            for i, a in zip(indices, alpha):
                try:
                    pictures[i] = render(self.output_type, images[i], np.asarray(a, np.float32), self.background)
                except Exception as exc:
                    errors[i] = _one_line(exc, names[i] or f"image {i}")
        out = {k: v for k, v in batch.items() if k not in ("bytes", "image", "trimap")}
        out["picture"], out["error"] = _objects(pictures), np.array(errors, dtype=object)
        return out


class MatteFiles:
    """Work rows in, files written, outcome rows out (see the module doc). ``options``: the job's
    :class:`~trtmatte.jobs.MatteJobOptions`; ``trimaps_given``: whether rows carry trimaps (None:
    not checked)."""

    def __init__(self, matter: Any = None, options=None, trimaps_given: bool | None = None):
        from ..jobs import MatteJobOptions

        self.matter = open_matter(matter)
        if trimaps_given is not None:
            check_trimap_use(self.matter, trimaps_given)
        self.options = options or MatteJobOptions()
        self.ready_at = time.time()  # the model is open: where the job's clock starts, as without Ray

    def items(self, batch: dict) -> list:
        from ..jobs import WorkItem
        from ..jobs.inputs import kind_of

        sources, targets = _texts(batch["source"], len(batch["source"])), _texts(batch["target"], len(batch["source"]))
        trimaps = _texts(batch.get("trimap"), len(sources))
        return [WorkItem(source=Path(s), target=Path(t), kind=kind_of(Path(s)), trimap=Path(m) if m else None)
                for s, t, m in zip(sources, targets, trimaps)]

    def __call__(self, batch: dict) -> dict:
        from ..jobs import MatteJob

        outcomes = []
        MatteJob(self.matter, self.options, report=outcomes.append).run(self.items(batch))
        return {
            "source": np.array([str(o.item.source) for o in outcomes], dtype=object),
            "target": np.array([str(o.item.target) for o in outcomes], dtype=object),
            "status": np.array([o.status for o in outcomes], dtype=object),
            "error": np.array([o.error for o in outcomes], dtype=object),
            "frames": np.array([o.frames for o in outcomes], dtype=np.int64),
            "notes": np.array(["\n".join(o.notes) for o in outcomes], dtype=object),
            "backend": np.array([f"{self.matter.info.label} (pid {os.getpid()})"] * len(outcomes), dtype=object),
            "ready_at": np.full(len(outcomes), self.ready_at),
        }


def _one_line(error: BaseException, label: str) -> str:
    from ..jobs.matte_job import describe

    return describe(error, Path(label))
