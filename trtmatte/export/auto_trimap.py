"""The auto-trimap pipeline for export (``trtmatte export --trimap-from``): a Late Fusion
checkpoint's F and B make the trimap of a trimap model, in one graph
(:class:`trtmatte.models.auto_trimap_pipeline.AutoTrimapPipeline`), and the metadata that records
the Late Fusion half (``trtmatte.trimap_source``: its variant, weights, pre-processing and the
trimap options), so the exported graph says what made its trimaps."""
from __future__ import annotations

import dataclasses
import json
import os

from torch import nn

from ..checkpoints.native import load_model
from ..contract.names import TRIMAP_SOURCE
from ..errors import TrtmatteError
from ..models.auto_trimap_pipeline import AutoTrimapPipeline
from ..models.registry import get_config
from ..trimap import AutoTrimapOptions


def auto_trimap_pipeline(model: nn.Module, info, pre, trimap_from: str | os.PathLike, options: AutoTrimapOptions,
                         max_side: int | None = None, enforce_trimap: bool = True) -> tuple[nn.Module, dict[str, str]]:
    """(the Late Fusion -> trimap model pipeline in eval mode, its extra metadata) for the trimap
    model ``model`` (``info``: its checkpoint's info, ``pre``: its pre-processing) fed by the Late
    Fusion checkpoint ``trimap_from``; ``max_side`` overrides the Late Fusion half's working size
    too. A trimap-free ``model`` or a trimap model as ``trimap_from`` is a one-line error."""
    if not get_config(info.variant).needs_trimap:
        raise TrtmatteError(f"--trimap-from feeds a trimap model, but {info.variant} is trimap-free: drop --trimap-from")
    source, source_info = load_model(trimap_from)
    if get_config(source_info.variant).needs_trimap:
        raise TrtmatteError(f"--trimap-from {trimap_from} is {source_info.variant}, a trimap model: "
                            "give a Late Fusion checkpoint")
    source_pre = source_info.preprocessing
    if max_side is not None:
        source_pre = dataclasses.replace(source_pre, max_side=max_side)
    pipeline = AutoTrimapPipeline(source, source_pre, model, pre, options, enforce_trimap)
    record = {"variant": source_info.variant, "weights_sha256": source_info.sha256,
              "weights_provenance": source_info.provenance.get("weights", ""),
              "preprocessing": source_pre.to_dict(), **dataclasses.asdict(options)}
    return pipeline.eval(), {TRIMAP_SOURCE: json.dumps(record)}
