"""The demo model bundled in the package (``trtmatte/weights/``): where it is, what it is.

The file is trained by ``trtmatte train`` (benchmarks/gpu/train_demo.sh) and dropped into
``trtmatte/weights/``; its provenance (how it was trained, on what) is read from the checkpoint's
own metadata, never restated here. Until the file exists, asking for it is a one-line error.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import TrtmatteError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
# variant -> file name in WEIGHTS_DIR; the first one is what `trtmatte matte` uses by default
BUNDLED = {"late_fusion_lite": "late_fusion_lite_demo.safetensors"}
# ... and its whole-pipeline export (uint8 image in, uint8 alpha out), so onnxruntime (the fastest
# CPU backend) and TensorRT run the demo model without PyTorch and without a first-run export.
# Remake it with: trtmatte export --weights trtmatte/weights/late_fusion_lite_demo.safetensors \
#                     -o trtmatte/weights/late_fusion_lite_demo.onnx --check
BUNDLED_GRAPHS = {"late_fusion_lite": "late_fusion_lite_demo.onnx"}
DEFAULT_VARIANT = next(iter(BUNDLED))


def bundled_path(variant: str = DEFAULT_VARIANT) -> Path:
    """Where the bundled checkpoint of ``variant`` lives (whether or not it is there)."""
    if variant not in BUNDLED:
        raise TrtmatteError(f"no bundled model for variant {variant!r} (bundled: {', '.join(BUNDLED)}): "
                            "pass --weights CHECKPOINT")
    return WEIGHTS_DIR / BUNDLED[variant]


def bundled_graph_path(variant: str = DEFAULT_VARIANT) -> Path | None:
    """Where the bundled ONNX export of ``variant`` lives (whether or not it is there); None for a
    bundled variant shipped as a checkpoint only."""
    bundled_path(variant)  # the same one-line error for an unknown variant
    name = BUNDLED_GRAPHS.get(variant)
    return WEIGHTS_DIR / name if name else None


def bundled_files(variant: str | None = None) -> tuple[Path | None, Path | None]:
    """(ONNX graph, checkpoint) of the bundled demo model that this installation has, each None
    when absent; (None, None) for a variant without a bundled model."""
    variant = variant or DEFAULT_VARIANT
    if variant not in BUNDLED:
        return None, None
    graph, weights = bundled_graph_path(variant), bundled_path(variant)
    return (graph if graph and graph.is_file() else None), (weights if weights.is_file() else None)


def missing_message(variant: str | None = None) -> str:
    """What to say when the bundled model is asked for and this installation lacks it."""
    path = bundled_path(variant or DEFAULT_VARIANT)
    return f"the bundled demo model {path.name} is missing from this installation ({path.parent})"


def default_weights(variant: str | None = None) -> Path:
    """The bundled checkpoint to use when no --weights is given; a one-line error if it is missing."""
    path = bundled_path(variant or DEFAULT_VARIANT)
    if not path.is_file():
        raise TrtmatteError(f"{missing_message(variant)}: pass --weights CHECKPOINT (train one with `trtmatte train`)")
    return path


def bundled_models() -> list[dict]:
    """One row per bundled variant: its file, whether it is present, and the checkpoint's provenance."""
    rows = []
    for variant in BUNDLED:
        path = bundled_path(variant)
        graph = bundled_graph_path(variant)
        row = {"variant": variant, "path": str(path), "present": path.is_file(), "provenance": {},
               "graph": str(graph) if graph else None, "graph_present": bool(graph and graph.is_file())}
        if row["graph_present"]:
            row["graph_bytes"] = graph.stat().st_size
        if row["present"]:
            row["provenance"] = read_provenance(path)
            row["bytes"] = path.stat().st_size
        rows.append(row)
    return rows


def read_provenance(path: str | Path) -> dict:
    """The provenance JSON in a trtmatte checkpoint's header, without reading its tensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return json.loads(meta.get("provenance", "{}") or "{}")
    except Exception as exc:  # corrupt header or JSON: say so, do not crash a listing
        raise TrtmatteError(f"cannot read the metadata of {path} ({type(exc).__name__}): re-install trtmatte "
                            "or replace the file") from None
