from __future__ import annotations

import argparse
import shlex
import sys

from .base import Command


class Train(Command):
    """Train a matting model the paper's way. Late Fusion: segmentation, then fusion, then joint
    training; AdaMatting (--variant adamatting / adamatting_lite): one multi-task stage, trimap
    adaptation + alpha with learned task weights, trimaps made from the ground truth (docs/adamatting.md).

    Losses, stages, cyclic learning rate and augmentation follow Zhong et al. (CVPR 2019). Data:
    a composite set written by `trtmatte calibset` (--data DIR), or synthetic composites made on
    the fly (--synthetic: procedural foregrounds over scikit-image's bundled photos). Writes -o
    DIR/model.safetensors, model_fp16.safetensors, loss_curve.png, train_log.json and checkpoints/.
    Examples:
      trtmatte train --synthetic --steps 300 100 100 --crop 256 --batch 4 -o run/
      trtmatte train --data composites/ --device cuda --minutes 30 -o run/
      trtmatte train --synthetic -o run/ --resume run/          (continue from the latest checkpoint)
      trtmatte train --variant adamatting_lite --synthetic --steps 2000 --crop 320 -o ada_run/
    """

    name = "train"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        data = parser.add_argument_group("data")
        data.add_argument("--data", metavar="DIR", help="composite set directory (from `trtmatte calibset`)")
        data.add_argument("--synthetic", action="store_true",
                          help="synthetic composites made on the fly (procedural foregrounds + scikit-image photos)")
        data.add_argument("--synthetic-count", type=int, default=64,
                          help="procedural foregrounds in the pool (default 64)")
        data.add_argument("--crop", type=int, default=320, help="square training crop, a multiple of 32 (default 320)")
        data.add_argument("--max-angle", type=float, default=15.0, help="rotation range in degrees (default 15)")
        data.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
        parser.add_argument("-o", "--output", required=True, help="output directory (created if missing)")
        parser.add_argument("--variant", default="late_fusion_lite", help="registry variant (default late_fusion_lite)")
        parser.add_argument("--steps", type=int, nargs="+", metavar="N",
                            help="steps per stage; 0 skips a stage (Late Fusion: SEG FUSION JOINT, default 1500 400 700, "
                                 "the paper's 15/4/7 ratio; AdaMatting: one count, default 2000)")
        parser.add_argument("--task-weights", default="learned", choices=["learned", "fixed"],
                            help="AdaMatting: learned uncertainty weights of the two tasks (default, the paper's "
                                 "AdaMatting-D) or the paper's converged sigmas held fixed (AdaMatting-F)")
        parser.add_argument("--minutes", type=float,
                            help="wall-clock budget, shared by the stages in the paper's 15/4/7 ratio")
        parser.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
        parser.add_argument("--lr", type=float, default=5e-4,
                            help="base learning rate (default 5e-4; peaks keep the paper's ratios, 3x and 2x)")
        parser.add_argument("--half-cycle", type=int, default=200, help="cyclic LR half period in steps (default 200)")
        parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
        parser.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"],
                            help="mixed precision (default auto: bf16 on a CUDA GPU that has it, off on CPU)")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--checkpoint-every", type=int, default=500, help="checkpoint every N steps (default 500)")
        parser.add_argument("--log-every", type=int, default=10, help="log the losses every N steps (default 10)")
        parser.add_argument("--resume", metavar="CKPT_OR_DIR",
                            help="continue from a checkpoint (checkpoints/step_*.safetensors) or an output directory")
        parser.add_argument("--imagenet", metavar="PTH",
                            help="torchvision DenseNet ImageNet state_dict to initialise the encoder")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        from pathlib import Path

        from ..errors import TrtmatteError
        from ..train import AugmentOptions, CompositeSetDataset, SyntheticDataset, TrainOptions, train

        if bool(args.data) == args.synthetic:
            raise TrtmatteError("give either --data DIR (a composite set from `trtmatte calibset`) or --synthetic")
        options = TrainOptions(variant=args.variant, steps=tuple(args.steps) if args.steps else None,
                               minutes=args.minutes, batch=args.batch, task_weights=args.task_weights,
                               base_lr=args.lr, half_cycle=args.half_cycle, device=args.device, amp=args.amp,
                               workers=args.workers, seed=args.seed, checkpoint_every=args.checkpoint_every,
                               log_every=args.log_every, imagenet=args.imagenet)
        options.check()
        out = Path(args.output)
        if out.exists() and not out.is_dir():
            raise TrtmatteError(f"-o {out} exists and is not a directory: choose another -o")
        if args.imagenet and not Path(args.imagenet).is_file():
            raise TrtmatteError(f"--imagenet {args.imagenet}: file not found")
        augment = AugmentOptions(crop=args.crop, max_angle=args.max_angle, seed=args.seed)
        if args.data:
            if not Path(args.data).is_dir():
                raise TrtmatteError(f"--data {args.data}: directory not found (make one with `trtmatte calibset`)")
            dataset = CompositeSetDataset(args.data, augment)
        else:
            dataset = SyntheticDataset(augment, fg_count=args.synthetic_count)
        if len(dataset) < 1:
            raise TrtmatteError("the training data is empty")
        # The command line as typed, for the checkpoints' provenance (README quotes it to reproduce them).
        command = shlex.join(["trtmatte", *sys.argv[1:]]) if sys.argv[1:2] == ["train"] else "trtmatte train"
        log = train(options, dataset, out, resume=args.resume, command=command, progress=not args.no_progress)
        steps = ", ".join(f"{name} {s['steps']}" for name, s in log["stages"].items())
        print(f"trained {log['variant']} for {log['global_step']} steps ({steps}) on {log['device']}")
        print(f"wrote {out / log['outputs']['model']}, {out / log['outputs']['model_fp16']} "
              f"({log['outputs']['model_fp16_bytes'] / 1e6:.1f} MB), {out / 'train_log.json'}"
              + (f", {out / log['outputs']['loss_curve']}" if log["outputs"]["loss_curve"] else ""))
        return 0
