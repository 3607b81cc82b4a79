"""Export, simplify, check and stamp the whole-pipeline ONNX graph.

Steps: ``torch.onnx.export`` (the dynamo exporter: dynamic N, H, W via ``torch.export.Dim``) ->
onnx-simplifier -> ``onnx.checker`` full check -> ``metadata_props`` -> atomic save (external
data beyond 2 GB). The graph's only input is the uint8 image; every size the graph needs is
computed inside from its shape, so no INT64 shape tensor is ever a network input. Trimap-based
networks take a second input, the uint8 trimap [N, H, W], which shares N, H and W with the image.
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
    enforce_trimap: bool = True  # trimap-based networks: alpha = 1 / 0 where the trimap says foreground / background
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


def _example_input(opts: ExportOptions, input_names: list[str]) -> tuple[tuple[torch.Tensor, ...], dict | None]:
    """Example inputs (image, and the trimap where the graph takes one) and their dynamic dims:
    the trimap shares the image's N, H and W (the same Dim objects)."""
    if opts.static_shape:
        n, h, w = opts.static_shape
    else:
        n, h, w = 2, 97, 131  # sizes of 0 or 1 would be specialised by torch.export; these stay symbolic
    generator = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8, generator=generator)
    trimap = (torch.randint(0, 3, (n, h, w), generator=generator) * 127.5).round().to(torch.uint8)
    example = (image, trimap)[:len(input_names)]
    if opts.static_shape:
        return example, None
    dim = torch.export.Dim
    nhw = {0: dim("batch", min=1, max=opts.max_batch), 1: dim("height", min=1, max=16384),
           2: dim("width", min=1, max=16384)}
    return example, {name: nhw for name in input_names}


def trace_to_onnx(graph: nn.Module, opts: ExportOptions):
    """Run the exporter quietly (it prints progress lines and warns about torchvision ops we never
    use) and return the ModelProto."""
    example, dynamic = _example_input(opts, graph.input_names)
    exporter_logger = logging.getLogger("torch.onnx")
    level = exporter_logger.level
    exporter_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(graph, example, input_names=graph.input_names,
                                        output_names=graph.output_names, opset_version=opts.opset,
                                        dynamic_shapes=dynamic, dynamo=True, optimize=True, verbose=False)
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


def _family(variant: str) -> str:
    from ..models.registry import get_config

    try:
        return get_config(variant).family
    except TrtmatteError:  # a combined or test-only name: no family to record
        return ""


def _strip_node_metadata(model) -> None:
    # The dynamo exporter tags every node with its torch origin; useful while debugging the
    # exporter, noise in a deployed graph (and kilobytes per node in Netron).
    for node in model.graph.node:
        del node.metadata_props[:]
    for value in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        del value.metadata_props[:]


def contract_text(input_names: list[str], output_names: list[str], alpha_dtype: str) -> str:
    """The I/O contract in words, stamped into the graph (metadata key ``contract``)."""
    ins = {names.IMAGE: "uint8 [N,H,W,3] RGB", names.TRIMAP: "uint8 [N,H,W] 0/128/255"}
    outs = {names.ALPHA: "[N,H,W]" + (" (x255)" if alpha_dtype == "uint8" else ""),
            names.TRIMAP_ADAPTED: "uint8 [N,H,W] 0/128/255", names.TRIMAP_AUTO: "uint8 [N,H,W] 0/128/255"}
    return (", ".join(f"{n}: {ins.get(n, '?')}" for n in input_names) + " -> "
            + ", ".join(f"{n} {outs.get(n, 'float32 [N,h,w]')}" for n in output_names))


def export_onnx(network: nn.Module, variant: str, preprocessing: Preprocessing, path: str | os.PathLike,
                opts: ExportOptions | None = None, weights_sha256: str = "", weights_provenance: str = "",
                extra_metadata: dict[str, str] | None = None) -> ExportReport:
    """Export ``network`` with ``preprocessing`` as one ONNX graph at ``path``. ``network`` may
    also be a whole pipeline (a module with ``input_names``, e.g. the Late Fusion -> AdaMatting
    graph of trtmatte.models.auto_trimap_pipeline); ``preprocessing`` is then only recorded."""
    require("onnx", "ONNX export")  # fail now, not after minutes of tracing
    opts = opts or ExportOptions()
    if opts.opset < MIN_OPSET:
        raise TrtmatteError(f"opset {opts.opset} is too old: the graph needs opset >= {MIN_OPSET}")
    if opts.static_shape and min(opts.static_shape) < 1:
        raise TrtmatteError(f"--shape must be positive, got {'x'.join(map(str, opts.static_shape))}")
    path = Path(path)
    start = time.perf_counter()
    is_pipeline = hasattr(network, "input_names")
    graph = ExportGraph(network, None if is_pipeline else preprocessing, opts.alpha_dtype, opts.debug_outputs,
                        opts.enforce_trimap).eval()
    if opts.fused_blend and getattr(graph.pipeline, "needs_trimap", False):
        raise TrtmatteError("--fused-blend fuses Late Fusion's blend; this network has none: drop --fused-blend")
    model = trace_to_onnx(graph, opts)
    nodes_exported = len(model.graph.node)
    if opts.simplify:
        model = simplify(model)
    _strip_node_metadata(model)
    fusion = None
    if opts.fused_blend:
        from .blend_rewrite import describe, fuse_blend

        fusion = fuse_blend(model, "the exported graph")
    takes_trimap = names.TRIMAP in graph.input_names
    meta = {
        names.VARIANT: variant,
        names.FAMILY: _family(variant),
        names.INPUTS: ",".join(graph.input_names),
        names.VERSION: __version__,
        names.PREPROCESSING: json.dumps(preprocessing.to_dict()),
        names.WEIGHTS_SHA256: weights_sha256,
        names.WEIGHTS_PROVENANCE: weights_provenance,
        names.ALPHA_DTYPE: opts.alpha_dtype,
        names.DEBUG: str(opts.debug_outputs).lower(),
        names.CONTRACT: contract_text(graph.input_names, graph.output_names, opts.alpha_dtype),
        **({names.ENFORCE_TRIMAP: str(opts.enforce_trimap).lower()} if takes_trimap else {}),
        **(extra_metadata or {}),
    }
    if fusion is not None:
        meta[names.FUSED_BLEND] = describe(fusion)
    stamp_metadata(model, meta)
    model.producer_name, model.producer_version = "trtmatte", __version__
    external = save_checked(model, path, "exported graph", opts.external_data_threshold)
    return ExportReport(str(path), nodes_exported, len(model.graph.node), time.perf_counter() - start,
                        saved_bytes(path, external), sha256_file(path), external, meta, fusion)
