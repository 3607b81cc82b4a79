"""`trtmatte convert-weights`: the authors' Keras HDF5 weights as a trtmatte checkpoint
(the work is checkpoints/keras.py)."""
from __future__ import annotations

import argparse

from .base import Command


class ConvertWeights(Command):
    """Convert the authors' released Keras HDF5 weights to a trtmatte checkpoint.

    Layers are matched by name (docs/design.md), kernels transposed HWIO -> OIHW. Untested
    against the genuine file, which is not obtainable here; the converter is exercised on
    Keras-layout files written from random weights. Example:
      trtmatte convert-weights FusionMatting.h5 -o late_fusion.safetensors
    """

    name = "convert-weights"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("keras_h5", help="the authors' Keras weights (.h5)")
        parser.add_argument("-o", "--output", required=True, help="checkpoint to write (.safetensors)")
        parser.add_argument("--variant", default="late_fusion", help="registry variant (default: late_fusion)")

    def run(self, args: argparse.Namespace) -> int:
        from ..checkpoints.native import load_model, save_checkpoint
        from ..fileio import sha256_file

        model, info = load_model(args.keras_h5, args.variant)
        if info.format != "keras-hdf5":
            from ..errors import TrtmatteError
            raise TrtmatteError(f"{args.keras_h5} is a {info.format} file, not Keras HDF5: nothing to convert")
        provenance = {"weights": "converted from Keras HDF5", "source_sha256": sha256_file(args.keras_h5)}
        save_checkpoint(model, args.output, args.variant, provenance=provenance)
        print(f"wrote {args.output} ({args.variant}, from {args.keras_h5})")
        return 0
