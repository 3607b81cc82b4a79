"""Load a source graph and save a converted one: same rules as the exporter (one-line errors, full
onnx.checker pass, atomic write, external data past protobuf's 2 GB limit), so a converted file is
as trustworthy as an exported one."""
from __future__ import annotations

import os
from pathlib import Path

from .._lazy import require
from ..errors import TrtmatteError
from ..fileio import check_writable


def load(src: str | os.PathLike, purpose: str):
    onnx = require("onnx", purpose)
    if not os.path.isfile(src):
        raise TrtmatteError(f"ONNX file {src} not found (create it with `trtmatte export`)")
    try:
        return onnx.load(os.fspath(src))
    except Exception as exc:  # protobuf DecodeError, missing external data, ...
        raise TrtmatteError(f"cannot read ONNX file {src}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc


def check(model_or_path, what: str) -> None:
    onnx = require("onnx")
    try:
        onnx.checker.check_model(model_or_path, full_check=True)
    except Exception as exc:  # ValidationError or InferenceError
        raise TrtmatteError(f"{what} fails onnx.checker: {str(exc).splitlines()[0]}; please report it") from exc


def save(model, dst: str | os.PathLike, precision: str, extra: dict[str, str] | None = None) -> int:
    """Stamp ``trtmatte.precision``, check, write atomically; return the bytes written."""
    from ..export.onnx_export import PROTOBUF_LIMIT, save_model, stamp_metadata  # imports torch: only now

    dst = Path(dst)
    meta = {p.key[len("trtmatte."):]: p.value for p in model.metadata_props if p.key.startswith("trtmatte.")}
    stamp_metadata(model, {**meta, "precision": precision, **(extra or {})})
    too_big = model.ByteSize() >= PROTOBUF_LIMIT
    if not too_big:
        check(model, f"the {precision} graph")
    external = save_model(model, dst)
    if too_big:
        check(str(dst), f"the {precision} graph")
    return dst.stat().st_size + ((dst.parent / external).stat().st_size if external else 0)


def writable(dst: str | os.PathLike) -> None:
    """Fail before minutes of work, not after."""
    check_writable(dst)
