"""Convert the authors' Keras HDF5 weights (Late Fusion CNN) into a trtmatte state_dict.

The authors' file (Keras ``model.save`` / ``save_weights``, docs/design.md) holds one group
per layer, ``model_weights/<layer>/<layer>/<weight>:0`` (``save_weights`` puts the layer groups
at the file root instead; both are read). Keras names containing ``/`` (DenseNet's
``conv1/conv``) are nested HDF5 groups; h5py path lookups walk them.

Conversions: conv ``kernel`` HWIO -> ``weight`` OIHW, ``bias`` -> ``bias``; BatchNorm ``gamma``,
``beta``, ``moving_mean``, ``moving_variance`` -> ``weight``, ``bias``, ``running_mean``,
``running_var`` (``num_batches_tracked`` = 0).

:func:`write_keras_h5` is the inverse. The genuine file sits on a host that is unreachable from
here, so the tests use it to fabricate files in the authors' layout from a randomised torch model;
it is a test aid, not a way to produce the genuine weights.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from torch import nn

from .._lazy import require
from ..errors import TrtmatteError

# --------------------------------------------------------------------------------------------
# Every Keras layer name, as a template per torch module role. Fixing a name against the genuine
# file is a one-line change here. Placeholders: {B} Keras block number (torch denseblock B-1),
# {I} dense layer index (1-based), {N} decoder prefix, {i} deconv / fusion index, {k} side level,
# {j} side conv index.
# Sources: encoder = Keras' keras.applications DenseNet names (given in docs/design.md);
# decoder up4/side and fusion names = the authors' code as summarised in docs/design.md.
# INFERRED (docs/design.md only says "up-blocks {N}_deconv5..1"): "deconv_conv" and "deconv_bn".
# --------------------------------------------------------------------------------------------
KERAS_NAMES: dict[str, str] = {
    # encoder: torch encoder.features.*
    "stem_conv": "conv1/conv",                 # features.conv0
    "stem_bn": "conv1/bn",                     # features.norm0
    "dense_norm1": "conv{B}_block{I}_0_bn",    # features.denseblock{B-1}.denselayer{I}.norm1
    "dense_conv1": "conv{B}_block{I}_1_conv",  # ... .conv1
    "dense_norm2": "conv{B}_block{I}_1_bn",    # ... .norm2
    "dense_conv2": "conv{B}_block{I}_2_conv",  # ... .conv2
    "transition_norm": "pool{B}_bn",           # features.transition{B-1}.norm
    "transition_conv": "pool{B}_conv",         # features.transition{B-1}.conv
    "final_bn": "bn",                          # features.norm5
    # decoders: torch fg_decoder.* / bg_decoder.*
    "deconv_conv": "{N}_deconv{i}_conv",       # deconv{i}.conv   INFERRED
    "deconv_bn": "{N}_deconv{i}_bn",           # deconv{i}.bn     INFERRED
    "up4_conv": "{N}_up4_conv",                # up4_conv
    "side_conv": "{N}_side_{k}_conv{j}",       # side{k}.conv{j}
    # fusion: torch fusion.*
    "fusion_conv_rgb": "fusion_convrgb",       # fusion.conv_rgb
    "fusion_bn_rgb": "fusion_bnrgb",           # fusion.bn_rgb
    "fusion_conv": "fusion_conv{i}",           # fusion.convs.{i}.conv
    "fusion_bn": "fusion_bn{i}",               # fusion.convs.{i}.bn
    "fusion_conv_output": "fusion_conv_output",  # fusion.conv_output
}
DECODER_PREFIXES = {"fg_decoder": "deFG", "bg_decoder": "deBG"}

# Keras weight name -> torch tensor name, per layer kind.
_CONV_WEIGHTS = {"kernel:0": "weight", "bias:0": "bias"}
_BN_WEIGHTS = {"gamma:0": "weight", "beta:0": "bias", "moving_mean:0": "running_mean",
               "moving_variance:0": "running_var"}

_FIX = "is this the authors' Late Fusion HDF5? see `trtmatte convert-weights --help`"


def _fail(message: str) -> TrtmatteError:
    return TrtmatteError(" ".join(message.split()))  # always one line


def keras_layer_names(model: nn.Module) -> dict[str, str]:
    """Map each Keras layer name to the torch module prefix it fills, built from ``model``'s modules
    (so every encoder depth, e.g. DenseNet-121 for ``late_fusion_lite``, is covered)."""
    names: dict[str, str] = {}

    def add(role: str, torch_prefix: str, **fmt) -> None:
        keras = KERAS_NAMES[role].format(**fmt)
        if keras in names:
            raise _fail(f"Keras name {keras!r} maps to both {names[keras]} and {torch_prefix} (fix KERAS_NAMES)")
        names[keras] = torch_prefix

    features = model.encoder.features
    for child, module in features.named_children():
        base = f"encoder.features.{child}"
        if child == "conv0":
            add("stem_conv", base)
        elif child == "norm0":
            add("stem_bn", base)
        elif child == "norm5":
            add("final_bn", base)
        elif child.startswith("denseblock"):
            B = int(child[len("denseblock"):]) + 1
            for layer in module.keys():
                I = int(layer[len("denselayer"):])
                for role, sub in (("dense_norm1", "norm1"), ("dense_conv1", "conv1"),
                                  ("dense_norm2", "norm2"), ("dense_conv2", "conv2")):
                    add(role, f"{base}.{layer}.{sub}", B=B, I=I)
        elif child.startswith("transition"):
            B = int(child[len("transition"):]) + 1
            add("transition_norm", f"{base}.norm", B=B)
            add("transition_conv", f"{base}.conv", B=B)

    for attr, N in DECODER_PREFIXES.items():
        decoder = getattr(model, attr)
        for i in range(5, 0, -1):
            add("deconv_conv", f"{attr}.deconv{i}.conv", N=N, i=i)
            add("deconv_bn", f"{attr}.deconv{i}.bn", N=N, i=i)
        add("up4_conv", f"{attr}.up4_conv", N=N)
        for k in range(3, -1, -1):
            side = getattr(decoder, f"side{k}")
            for j in (1, 2, 3):
                if getattr(side, f"conv{j}", None) is not None:
                    add("side_conv", f"{attr}.side{k}.conv{j}", N=N, k=k, j=j)

    fusion = model.fusion
    add("fusion_conv_rgb", "fusion.conv_rgb")
    add("fusion_bn_rgb", "fusion.bn_rgb")
    for i in range(len(fusion.convs)):
        add("fusion_conv", f"fusion.convs.{i}.conv", i=i)
        add("fusion_bn", f"fusion.convs.{i}.bn", i=i)
    add("fusion_conv_output", "fusion.conv_output")

    # Every module holding weights must be mapped, or the table is out of date with the model.
    mapped = set(names.values())
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)) and name not in mapped:
            raise _fail(f"model module {name} has no Keras layer name (update KERAS_NAMES in {__name__})")
    return names


def _layer_weights(module: nn.Module) -> dict[str, str]:
    """Keras weight name -> torch tensor name for one mapped module."""
    if isinstance(module, nn.BatchNorm2d):
        return dict(_BN_WEIGHTS)
    if isinstance(module, nn.Conv2d):
        return {k: v for k, v in _CONV_WEIGHTS.items() if v != "bias" or module.bias is not None}
    raise TypeError(f"unsupported module type {type(module).__name__}")


def _keras_shape(torch_name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    if torch_name == "weight" and len(shape) == 4:  # OIHW -> HWIO
        return (shape[2], shape[3], shape[1], shape[0])
    return tuple(shape)


def _find_layer_weights(root, layer: str) -> dict[str, object] | None:
    """The datasets of one layer group keyed by their base name (``kernel:0``...), or None."""
    group = root.get(layer)
    if group is None or not hasattr(group, "visititems"):
        return None
    found: dict[str, object] = {}
    canonical = group.get(layer)  # model_weights/<layer>/<layer>/<weight>
    for g in ([canonical] if canonical is not None and hasattr(canonical, "items") else []) + [group]:
        def visit(name, obj, _found=found):
            if hasattr(obj, "shape") and hasattr(obj, "dtype"):
                _found.setdefault(name.rsplit("/", 1)[-1], obj)
        g.visititems(visit)
    return found


def _open_h5(path: Path):
    h5py = require("h5py", "reading Keras HDF5 weights")
    if not path.is_file():
        raise _fail(f"Keras weights file {path} not found (pass the path to the authors' .h5 file)")
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        reason = str(exc).split("\n")[0]
        raise _fail(f"{path} is not a readable HDF5 file ({reason}): {_FIX}") from None


def convert_keras_h5(path: str | Path, variant: str = "late_fusion") -> dict[str, torch.Tensor]:
    """Read the authors' Keras HDF5 and return a complete state_dict for ``create_model(variant)``."""
    from ..models.registry import create_model

    path = Path(path)
    model = create_model(variant)
    expected = model.state_dict()
    modules = dict(model.named_modules())
    layers = keras_layer_names(model)

    state: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    with _open_h5(path) as f:
        mw = f.get("model_weights")
        root = mw if mw is not None and hasattr(mw, "items") else f
        for layer, prefix in layers.items():
            datasets = _find_layer_weights(root, layer)
            wanted = _layer_weights(modules[prefix])
            if datasets is None:
                problems.append(f"Keras layer {layer!r} (for {prefix}) is missing from {path.name}")
                continue
            for kname, tname in wanted.items():
                key = f"{prefix}.{tname}"
                need = tuple(expected[key].shape)
                ds = datasets.get(kname)
                if ds is None:
                    problems.append(f"Keras layer {layer!r} has no weight {kname} (for {key})")
                    continue
                have = tuple(ds.shape)
                if have != _keras_shape(tname, need):
                    problems.append(f"Keras weight {layer}/{kname} has shape {have} but {variant} needs "
                                    f"{_keras_shape(tname, need)} (for {key})")
                    continue
                arr = np.asarray(ds[()], dtype=np.float32)
                if tname == "weight" and arr.ndim == 4:
                    arr = arr.transpose(3, 2, 0, 1)  # HWIO -> OIHW
                state[key] = torch.from_numpy(np.ascontiguousarray(arr)).to(expected[key].dtype)
            extra = sorted(set(datasets) - set(wanted))
            if extra:
                problems.append(f"Keras layer {layer!r} has weight {extra[0]} that {prefix} has no place for")

    for key, ref in expected.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.zeros_like(ref)
        elif key not in state and not problems:
            problems.append(f"model weight {key} was not filled by any Keras layer (update KERAS_NAMES)")
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise _fail(f"{problems[0]}{more}: {_FIX}")
    return {key: state[key] for key in expected}


def write_keras_h5(
    state_dict_or_model: nn.Module | Mapping[str, torch.Tensor],
    path: str | Path,
    variant: str = "late_fusion",
    root: str | None = "model_weights",
) -> Path:
    """Write a torch model / state_dict in the authors' Keras HDF5 layout (inverse of
    :func:`convert_keras_h5`). A test aid: the genuine file is not obtainable here, so tests
    fabricate one with this. ``root=None`` (or "") writes the layer groups at the file root, as
    Keras ``save_weights`` does."""
    from ..models.registry import create_model

    h5py = require("h5py", "writing Keras HDF5 weights")
    if isinstance(state_dict_or_model, nn.Module):
        model = state_dict_or_model
        state = model.state_dict()
    else:
        model = create_model(variant)
        state = dict(state_dict_or_model)
    modules = dict(model.named_modules())
    layers = keras_layer_names(model)

    path = Path(path)
    with h5py.File(path, "w") as f:
        top = f.require_group(root) if root else f
        top.attrs["layer_names"] = np.array([n.encode() for n in layers], dtype="S")
        top.attrs["backend"] = b"tensorflow"
        top.attrs["keras_version"] = b"2.2.4"
        for layer, prefix in layers.items():
            group = top.require_group(layer).require_group(layer)
            weight_names = []
            for kname, tname in _layer_weights(modules[prefix]).items():
                arr = state[f"{prefix}.{tname}"].detach().cpu().to(torch.float32).numpy()
                if tname == "weight" and arr.ndim == 4:
                    arr = arr.transpose(2, 3, 1, 0)  # OIHW -> HWIO
                group.create_dataset(kname, data=np.ascontiguousarray(arr))
                weight_names.append(f"{layer}/{kname}".encode())
            top[layer].attrs["weight_names"] = np.array(weight_names, dtype="S")
    return path
