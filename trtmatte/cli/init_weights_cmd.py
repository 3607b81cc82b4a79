"""`trtmatte init-weights`: a fresh, untrained checkpoint of a registry variant."""
from __future__ import annotations

import argparse

from .base import Command


class InitWeights(Command):
    """Write a fresh trtmatte checkpoint for a variant (random init, or ImageNet encoder).

    Untrained weights produce meaningless mattes; this is the starting point for `trtmatte
    train` and for plumbing checks. Example:
      trtmatte init-weights late_fusion --imagenet densenet201-c1103571.pth -o lf_init.safetensors
    """

    name = "init-weights"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("variant", help="registry variant (see `trtmatte models`)")
        parser.add_argument("-o", "--output", required=True, help="checkpoint to write (.safetensors)")
        parser.add_argument("--imagenet", metavar="PTH",
                            help="torchvision DenseNet ImageNet state_dict to initialise the encoder")
        parser.add_argument("--seed", type=int, default=0, help="random seed for the other layers")
        parser.add_argument("--recalibrate-bn", action="store_true",
                            help="re-estimate BatchNorm statistics on scikit-image's bundled photos so alpha "
                                 "varies like a real model's (for parity checks and benchmarks; still untrained)")

    def run(self, args: argparse.Namespace) -> int:
        import torch

        from ..checkpoints.native import save_checkpoint
        from ..checkpoints.torchvision import load_imagenet_encoder
        from ..models import create_model

        from ..errors import TrtmatteError
        from ..models import get_config

        if args.imagenet and get_config(args.variant).family != "late_fusion":
            raise TrtmatteError(f"--imagenet loads a torchvision DenseNet into Late Fusion's encoder; {args.variant} "
                                "has no DenseNet encoder: drop --imagenet")
        torch.manual_seed(args.seed)
        model = create_model(args.variant)
        provenance = {"weights": "untrained: random initialisation", "seed": args.seed}
        if args.imagenet:
            load_imagenet_encoder(model.encoder, args.imagenet)
            provenance["weights"] = f"untrained: ImageNet encoder from {args.imagenet}, rest random"
        if args.recalibrate_bn:
            from ..data.photos import sample_photos
            from ..models.bn_recalibration import recalibrate_batchnorm

            recalibrate_batchnorm(model, sample_photos(max_side=256), get_config(args.variant).preprocessing)
            provenance["weights"] += ", BatchNorm statistics re-estimated on scikit-image photos, logits rescaled"
        save_checkpoint(model, args.output, args.variant, provenance=provenance)
        print(f"wrote {args.output} ({args.variant}, {provenance['weights']})")
        return 0
