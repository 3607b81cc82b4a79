"""trtmatte's checkpoint format and the one loader that accepts every supported weights file.

A trtmatte checkpoint is a single ``.safetensors`` file whose header metadata carries the JSON
config (variant, trtmatte version, pre-processing, free-text provenance), so a deployed file
always says which registry variant and which pre-processing it needs. Tensors may be stored as
float16 (the bundled demo model) and are cast back to float32 on load.
"""
from __future__ import annotations

import dataclasses

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .._version import __version__
from ..errors import TrtmatteError
from ..fileio import atomic_output, sha256_file
from ..models.registry import Preprocessing, create_model, get_config
from .validate import check_state_dict

FORMAT = "trtmatte-checkpoint"
FORMAT_VERSION = "1"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class CheckpointInfo:
    path: str
    format: str  # "trtmatte", "keras-hdf5" or "torch-state-dict"
    variant: str
    sha256: str
    preprocessing: Preprocessing
    trtmatte_version: str = ""
    provenance: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"path": self.path, "format": self.format, "variant": self.variant, "sha256": self.sha256,
                "preprocessing": self.preprocessing.to_dict(), "trtmatte_version": self.trtmatte_version,
                "provenance": self.provenance}


def save_checkpoint(model: nn.Module, path: str | Path, variant: str, *, dtype: torch.dtype = torch.float32,
                    provenance: dict | None = None) -> Path:
    """Write ``model``'s state_dict as a trtmatte checkpoint, atomically."""
    from safetensors.torch import save_file

    cfg = get_config(variant)
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu()
        if value.is_floating_point():
            value = value.to(dtype)
        state[key] = value.contiguous()
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "variant": variant,
        "trtmatte_version": __version__,
        "config": json.dumps(cfg.to_dict()),
        "provenance": json.dumps(provenance or {}),
    }
    path = Path(path)
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path


def save_fp16_copy(src: str | Path, dst: str | Path, provenance: dict | None = None) -> Path:
    """Write an FP16 copy of checkpoint ``src`` to ``dst`` (half the bytes; the bundled demo model).
    The provenance is kept (``provenance`` entries added to it); loading casts back to float32."""
    model, info = load_model(src)
    merged = {**info.provenance, **(provenance or {}), "stored_as": "float16"}
    return save_checkpoint(model, dst, info.variant, dtype=torch.float16, provenance=merged)


def _sniff(path: Path) -> str:
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(_HDF5_MAGIC):
        return "keras-hdf5"
    # safetensors first: its first byte is the low byte of the header length, which is 0x80 for one
    # header length in 256 and would pass for a pickle's PROTO opcode.
    if len(head) >= 9 and head[8:9] == b"{":  # safetensors: u64 header length, then JSON
        return "trtmatte"
    if head.startswith(_ZIP_MAGIC) or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        return "torch-state-dict"  # torch.save zip / legacy pickle (PROTO opcode + protocol 2-5)
    return "unknown"


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers/data
        raise TrtmatteError(f"{path} is not a readable safetensors file ({exc}); re-download or re-save it") from None
    return state, meta


def load_state(path: str | Path, variant: str | None = None) -> tuple[dict[str, torch.Tensor], CheckpointInfo]:
    """Read any supported weights file into a float32 state_dict for a full model."""
    path = Path(path)
    if variant:
        get_config(variant)  # an unknown variant is named before any file is read
    if not path.is_file():
        raise TrtmatteError(f"weights file {path} not found (pass --weights PATH to an existing checkpoint)")
    kind = _sniff(path)
    provenance: dict = {}
    version = ""
    if kind == "trtmatte":
        state, meta = _read_safetensors(path)
        if meta.get("format") != FORMAT:
            raise TrtmatteError(f"{path} is a safetensors file without trtmatte metadata: save it with "
                                "trtmatte.checkpoints.native.save_checkpoint or name its variant")
        stored = meta.get("variant", "")
        if variant and variant != stored:
            raise TrtmatteError(f"{path} holds variant {stored!r}, not {variant!r}: drop --variant or pick the right file")
        variant = stored
        version = meta.get("trtmatte_version", "")
        provenance = json.loads(meta.get("provenance", "{}") or "{}")
    elif kind == "keras-hdf5":
        from .keras import convert_keras_h5

        variant = variant or "late_fusion"
        state = convert_keras_h5(path, variant)
    elif kind == "torch-state-dict":
        from .torchvision import read_torch_file

        state = read_torch_file(path)
        if all(k.startswith(("features.", "classifier.", "module.features.", "module.classifier."))
               for k in state):
            raise TrtmatteError(f"{path} is an ImageNet DenseNet file: it initialises the encoder only; "
                                f"run `trtmatte init-weights --imagenet {path} -o model.safetensors` first")
        variant = variant or "late_fusion"
    else:
        raise TrtmatteError(f"{path} is not a weights file trtmatte knows (expected .safetensors from trtmatte, "
                            "the authors' Keras .h5, or a PyTorch state_dict)")
    cfg = get_config(variant)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    pre = cfg.preprocessing
    if recipe_min_side(provenance):  # the working sizes it was trained at: smaller inputs are resized up
        pre = dataclasses.replace(pre, min_side=recipe_min_side(provenance))
    info = CheckpointInfo(str(path), kind, variant, sha256_file(path), pre, version, provenance)
    return state, info


def recipe_min_side(provenance: dict) -> int:
    """The smallest working size a trtmatte-trained checkpoint saw: its training crop (``--crop``,
    from the provenance's options or command); 0 where the recipe does not say (the authors'
    weights, converted files)."""
    crop = (provenance.get("options") or {}).get("crop")
    if crop is None:
        match = re.search(r"--crop[ =](\d+)", str(provenance.get("command", "")))
        crop = int(match[1]) if match else 0
    return int(crop)


def load_model(path: str | Path, variant: str | None = None) -> tuple[nn.Module, CheckpointInfo]:
    """Build the checkpoint's variant and load its weights strictly; eval mode, float32."""
    state, info = load_state(path, variant)
    model = create_model(info.variant)
    check_state_dict(model.state_dict(), state, str(path), f"model variant {info.variant!r}",
                     "re-export the checkpoint or pick the matching --variant")
    model.load_state_dict(state, strict=True)
    return model.eval(), info
