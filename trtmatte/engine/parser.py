"""Parse an ONNX graph into a strongly typed TensorRT network, with errors that name the node."""
from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .flavour import import_tensorrt
from ..errors import TrtmatteError


@dataclass
class ParsedNetwork:
    trt: ModuleType
    logger: Any
    builder: Any
    network: Any
    parser: Any  # must outlive the network: it owns the weights the network points to

    def io_summary(self) -> dict[str, list[tuple[str, str, tuple[int, ...]]]]:
        net = self.network
        def describe(t):
            return (t.name, t.dtype.name, tuple(t.shape))
        return {"inputs": [describe(net.get_input(i)) for i in range(net.num_inputs)],
                "outputs": [describe(net.get_output(i)) for i in range(net.num_outputs)]}


def _describe_error(error) -> str:
    """One line: the parser's summary, the builder's reason, and the node. Lines about the CUDA
    driver are dropped: parsing needs no GPU, and on a CPU machine TensorRT-RTX adds that noise."""
    lines = [line.strip() for line in error.desc().splitlines()
             if line.strip() and "CUDA driver version is insufficient" not in line]
    node = error.node_name() if hasattr(error, "node_name") else ""
    op = error.node_operator() if hasattr(error, "node_operator") else ""
    where = f" at node '{node}' ({op})" if node or op else ""
    return " | ".join(lines) + where


def parse_onnx(path: str | os.PathLike, flavour: str | None = None, logger=None) -> ParsedNetwork:
    """Parse ``path`` (external data beside it is found by the parser) into a strongly typed network:
    precision comes from the ONNX tensors (FP16 tensors, INT8 Q/DQ), never from builder flags."""
    trt = import_tensorrt(flavour)
    if not os.path.isfile(path):
        raise TrtmatteError(f"ONNX file {path} not found (create it with `trtmatte export`)")
    # Errors are collected from the parser and raised as one line; the logger would print them twice.
    logger = logger or trt.Logger(trt.Logger.INTERNAL_ERROR)
    builder = trt.Builder(logger)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(os.fspath(path)):
        errors = [_describe_error(parser.get_error(i)) for i in range(parser.num_errors)]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        first = errors[0] if errors else "unknown parser error"
        raise TrtmatteError(f"TensorRT cannot parse {path}: {first}{more}")
    return ParsedNetwork(trt, logger, builder, network, parser)
