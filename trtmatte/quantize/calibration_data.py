"""The data a precision conversion is calibrated and judged on, and the rules that keep them apart:
calibration images spread over a composite set, and a held-out set that shares no background with
it (an accuracy report on the calibration images would flatter INT8)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import TrtmatteError


def check_held_out_dirs(eval_dir: str | os.PathLike | None, calib_dir: str | os.PathLike | None) -> None:
    """Refuse, before any work, a report without a held-out set or with the calibration set as one."""
    if not eval_dir:
        raise TrtmatteError("--report needs --eval DIR, a held-out set (`trtmatte calibset --split heldout --seed 1`)")
    if calib_dir and Path(eval_dir).resolve() == Path(calib_dir).resolve():
        raise TrtmatteError("--eval is the calibration set: the report needs held-out composites")


def held_out_samples(eval_dir: str | os.PathLike, calib_samples=None) -> list:
    """The held-out set's samples, refused if they share a background with the calibration set."""
    from ..data import read_manifest

    held_out = read_manifest(eval_dir)
    if calib_samples:
        shared = sorted({s.bg for s in calib_samples} & {s.bg for s in held_out})
        if shared:
            raise TrtmatteError(f"--eval shares backgrounds with --calib ({', '.join(shared[:3])}): "
                                "not held out; build it with other backgrounds (--split heldout)")
    return held_out


def calibration_images(samples, count: int, size: int, trimap_band: int | None = None
                       ) -> list[np.ndarray] | tuple[list[np.ndarray], list[np.ndarray]]:
    """``count`` images spread evenly over ``samples`` (every foreground, many backgrounds),
    centre-cropped square and resized to ``size``. With ``trimap_band`` (a graph with a trimap
    input): (images, trimaps), each trimap made from the composite's ground-truth alpha with an
    unknown band of that many px (trtmatte.trimap.from_alpha)."""
    from ..data.calibset import square_images

    if count < 1 or size < 32:
        raise TrtmatteError("--calib-count must be >= 1 and --calib-size >= 32")
    step = max(1, len(samples) // count)
    chosen = samples[::step][:count]
    if trimap_band is None:
        return square_images(chosen, size)
    from ..trimap import from_alpha

    images, alphas = square_images(chosen, size, with_alpha=True)
    return images, [from_alpha(a, trimap_band) for a in alphas]


def takes_trimap(model: str | os.PathLike) -> bool:
    """Whether a graph has a ``trimap`` input (read without its weights)."""
    from ..contract.graphio import load_onnx
    from ..contract.names import TRIMAP

    return TRIMAP in {i.name for i in load_onnx(model, "reading the ONNX graph", weights=False).graph.input}


def output_paths(jobs: list[tuple], model: str | os.PathLike, output: str | os.PathLike) -> list[tuple]:
    """Where each (precision, method[, quantizer]) graph goes: ``output`` itself for one graph, else
    ``output/<stem>.<precision>[-<method>][-modelopt].onnx`` in an existing directory."""
    out = Path(output)
    if len(jobs) == 1:
        return [(*jobs[0], out)]
    if not out.is_dir():
        raise TrtmatteError(f"{len(jobs)} output graphs need -o to be an existing directory, got {out}")
    stem = Path(model).stem
    paths = []
    for job in jobs:
        p, m = job[0], job[1]
        tool = f"-{job[2]}" if len(job) > 2 and job[2] != "trtmatte" else ""
        paths.append((*job, out / f"{stem}.{p}{'' if m is None else '-' + m}{tool}.onnx"))
    return paths
