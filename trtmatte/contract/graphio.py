"""Loading and saving ONNX graphs by one set of rules: one-line errors, the full ``onnx.checker``
pass, atomic writes, and external data past protobuf's 2 GB limit. The exporter and every
precision conversion save through :func:`save_checked`, so a converted file is as trustworthy as
an exported one; everything that reads a graph loads it through :func:`load_onnx`."""
from __future__ import annotations

import os
from pathlib import Path

from .._lazy import require
from ..errors import TrtmatteError
from ..fileio import atomic_output
from .metadata import read_metadata, stamp_metadata

# protobuf refuses to serialize a message of 2 GiB or more; past this, weights go to a side file
PROTOBUF_LIMIT = 2**31 - 1


def load_onnx(path: str | os.PathLike, purpose: str, weights: bool = True):
    """The ModelProto at ``path``; ``weights=False`` skips external data (graph and metadata only)."""
    onnx = require("onnx", purpose)
    if not os.path.isfile(path):
        raise TrtmatteError(f"ONNX file {path} not found (create it with `trtmatte export`)")
    try:
        return onnx.load(os.fspath(path), load_external_data=weights)
    except Exception as exc:  # protobuf DecodeError, missing external data, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrtmatteError(f"{path} is not a readable ONNX file ({reason}); re-export it with `trtmatte export`") from None


def read_metadata_file(path: str | os.PathLike) -> dict[str, str]:
    """trtmatte's metadata of the graph at ``path``, without loading its weights (fast even with
    external data)."""
    return read_metadata(load_onnx(path, "reading ONNX metadata", weights=False))


def save_model(model, path: str | os.PathLike, threshold: int = PROTOBUF_LIMIT) -> str | None:
    """Save atomically; weights go to ``<name>.data`` beside the graph when the proto is too big.
    Returns the external data file's name, or None."""
    onnx = require("onnx", "writing ONNX files")
    path = Path(path)
    external = None
    with atomic_output(path) as tmp:
        if model.ByteSize() >= threshold:
            external = path.name + ".data"
            data_path = path.parent / external
            try:
                onnx.save_model(model, str(tmp), save_as_external_data=True, all_tensors_to_one_file=True,
                                location=external, size_threshold=1024)  # small shape constants stay inline for shape inference
            except BaseException:
                data_path.unlink(missing_ok=True)
                raise
        else:
            onnx.save_model(model, str(tmp))
    return external


def check_graph(model_or_path, what: str = "exported graph") -> None:
    """onnx.checker's full check (shape inference included), as a one-line error."""
    onnx = require("onnx", "checking ONNX graphs")
    try:
        onnx.checker.check_model(model_or_path, full_check=True)
    except Exception as exc:  # the checker raises ValidationError or InferenceError
        raise TrtmatteError(f"{what} fails onnx.checker: {str(exc).splitlines()[0]}") from exc


def save_checked(model, path: str | os.PathLike, what: str = "exported graph", threshold: int = PROTOBUF_LIMIT) -> str | None:
    """Check, then save atomically (external data past ``threshold``); a graph too big for an
    in-memory check is checked from disk and removed if it fails. Returns the external data file."""
    path = Path(path)
    too_big = model.ByteSize() >= PROTOBUF_LIMIT
    if not too_big:
        check_graph(model, what)
    external = save_model(model, path, threshold)
    if too_big:
        try:
            check_graph(str(path), what)
        except TrtmatteError:
            path.unlink(missing_ok=True)
            (path.parent / external).unlink(missing_ok=True)
            raise
    return external


def saved_bytes(path: str | os.PathLike, external: str | None) -> int:
    """Size on disk of a saved graph, its external data included."""
    path = Path(path)
    return path.stat().st_size + ((path.parent / external).stat().st_size if external else 0)


def save_derived(model, path: str | os.PathLike, what: str, updates: dict[str, str]) -> int:
    """Save a graph derived from an exported one (FP16, INT8, ...): its trtmatte metadata kept and
    ``updates`` merged in, checked and written like an export. Returns the bytes written."""
    stamp_metadata(model, {**read_metadata(model), **updates})
    return saved_bytes(path, save_checked(model, path, what))
