"""Export, simplify, check and stamp the whole-pipeline ONNX graph.

Steps: ``torch.onnx.export`` (the dynamo exporter: dynamic N, H, W via ``torch.export.Dim``) ->
onnx-simplifier -> ``onnx.checker`` full check -> ``metadata_props`` -> atomic save (external
data beyond 2 GB). The graph's only input is the uint8 image; every size the graph needs is
computed inside from its shape, so no INT64 shape tensor is ever a network input.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .._version import __version__
from .._lazy import require
from ..errors import TrtmatteError
from ..contract import names
from ..contract.graphio import PROTOBUF_LIMIT, save_checked, saved_bytes
from ..contract.metadata import stamp_metadata
from ..fileio import sha256_file
from ..models.registry import Preprocessing
from .graph import ExportGraph

MIN_OPSET = 17


@dataclass
class ExportOptions:
    alpha_dtype: str = "uint8"
    debug_outputs: bool = False
    opset: int = 18
    static_shape: tuple[int, int, int] | None = None  # (N, H, W); None = dynamic N, H, W
    simplify: bool = True
    max_batch: int = 64  # upper bound the exporter may assume for N (TensorRT profiles set the real one)
    fused_blend: bool = False  # one trtmatte::FusedBlend node (TensorRT plugin) instead of the blend subgraph
    external_data_threshold: int = PROTOBUF_LIMIT


@dataclass
class ExportReport:
    path: str
    nodes_exported: int
    nodes_final: int
    seconds: float
    size_bytes: int
    sha256: str
    external_data: str | None = None
    metadata: dict = field(default_factory=dict)
    fused_blend: dict | None = None  # what --fused-blend replaced (export/blend_rewrite.py)


def _example_input(opts: ExportOptions) -> tuple[torch.Tensor, dict | None]:
    if opts.static_shape:
        n, h, w = opts.static_shape
        return torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8), None
    # Sizes of 0 or 1 would be specialised by torch.export; 2 x 97 x 131 stays symbolic.
    example = torch.randint(0, 256, (2, 97, 131, 3), dtype=torch.uint8)
    dim = torch.export.Dim
    dynamic = {names.IMAGE: {0: dim("batch", min=1, max=opts.max_batch),
                         1: dim("height", min=1, max=16384), 2: dim("width", min=1, max=16384)}}
    return example, dynamic


def trace_to_onnx(graph: nn.Module, opts: ExportOptions):
    """Run the exporter quietly (it prints progress lines and warns about torchvision ops we never
    use) and return the ModelProto."""
    example, dynamic = _example_input(opts)
    exporter_logger = logging.getLogger("torch.onnx")
    level = exporter_logger.level
    exporter_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(graph, (example,), input_names=[names.IMAGE], output_names=graph.output_names,
                                        opset_version=opts.opset, dynamic_shapes=dynamic, dynamo=True,
                                        optimize=True, verbose=False)
    except Exception as exc:
        raise TrtmatteError(f"torch.onnx.export failed ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                            "please report it with the variant and options used") from exc
    finally:
        exporter_logger.setLevel(level)
    return program.model_proto


def simplify(model):
    onnxsim = require("onnxsim", "simplifying the exported graph")
    simplified, ok = onnxsim.simplify(model, check_n=0)  # parity is checked separately, on real photos
    if not ok:
        raise TrtmatteError("onnx-simplifier could not validate the simplified graph; re-run with --no-simplify")
    return simplified


def _strip_node_metadata(model) -> None:
    # The dynamo exporter tags every node with its torch origin; useful while debugging the
    # exporter, noise in a deployed graph (and kilobytes per node in Netron).
    for node in model.graph.node:
        del node.metadata_props[:]
    for value in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        del value.metadata_props[:]


def export_onnx(network: nn.Module, variant: str, preprocessing: Preprocessing, path: str | os.PathLike,
                opts: ExportOptions | None = None, weights_sha256: str = "", weights_provenance: str = "") -> ExportReport:
    """Export ``network`` with ``preprocessing`` as one ONNX graph at ``path``."""
    require("onnx", "ONNX export")  # fail now, not after minutes of tracing
    opts = opts or ExportOptions()
    if opts.opset < MIN_OPSET:
        raise TrtmatteError(f"opset {opts.opset} is too old: the graph needs opset >= {MIN_OPSET}")
    if opts.static_shape and min(opts.static_shape) < 1:
        raise TrtmatteError(f"--shape must be positive, got {'x'.join(map(str, opts.static_shape))}")
    path = Path(path)
    start = time.perf_counter()
    graph = ExportGraph(network, preprocessing, opts.alpha_dtype, opts.debug_outputs).eval()
    model = trace_to_onnx(graph, opts)
    nodes_exported = len(model.graph.node)
    if opts.simplify:
        model = simplify(model)
    _strip_node_metadata(model)
    fusion = None
    if opts.fused_blend:
        from .blend_rewrite import describe, fuse_blend

        fusion = fuse_blend(model, "the exported graph")
    meta = {
        names.VARIANT: variant,
        names.VERSION: __version__,
        names.PREPROCESSING: json.dumps(preprocessing.to_dict()),
        names.WEIGHTS_SHA256: weights_sha256,
        names.WEIGHTS_PROVENANCE: weights_provenance,
        names.ALPHA_DTYPE: opts.alpha_dtype,
        names.DEBUG: str(opts.debug_outputs).lower(),
        names.CONTRACT: f"{names.IMAGE}: uint8 [N,H,W,3] RGB -> {names.ALPHA} [N,H,W]"
                        + (" (x255)" if opts.alpha_dtype == "uint8" else ""),
    }
    if fusion is not None:
        meta[names.FUSED_BLEND] = describe(fusion)
    stamp_metadata(model, meta)
    model.producer_name, model.producer_version = "trtmatte", __version__
    external = save_checked(model, path, "exported graph", opts.external_data_threshold)
    return ExportReport(str(path), nodes_exported, len(model.graph.node), time.perf_counter() - start,
                        saved_bytes(path, external), sha256_file(path), external, meta, fusion)
