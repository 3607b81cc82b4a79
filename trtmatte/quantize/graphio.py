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


def save(model, dst: str | os.PathLike, precision: str, extra: dict[str, str] | None = None) -> int:
    """Stamp ``trtmatte.precision``, then check and write it like an exported graph; return the bytes written."""
    from ..export.onnx_export import save_checked, stamp_metadata  # imports torch: only now

    dst = Path(dst)
    meta = {p.key[len("trtmatte."):]: p.value for p in model.metadata_props if p.key.startswith("trtmatte.")}
    stamp_metadata(model, {**meta, "precision": precision, **(extra or {})})
    external = save_checked(model, dst, f"the {precision} graph")
    return dst.stat().st_size + ((dst.parent / external).stat().st_size if external else 0)


def writable(dst: str | os.PathLike) -> None:
    """Fail before minutes of work, not after."""
    check_writable(dst)
