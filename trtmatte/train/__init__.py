"""Training per the papers: Late Fusion's losses and three stages, AdaMatting's multi-task stage
(chosen by the variant's family: ``recipes``), data, and the loop.

Library only (the CLI is ``trtmatte train``, :mod:`trtmatte.cli.train_cmd`). Importing this package
imports torch but nothing optional; matplotlib is imported when the loss curve is drawn.
"""
from .dataset import AugmentOptions, CompositeSetDataset, IndexStream, SyntheticDataset
from .stages import STAGES, configure, cyclic_lr, stage_loss
from .trainer import TrainOptions, Trainer, train

__all__ = ["AugmentOptions", "CompositeSetDataset", "IndexStream", "STAGES", "SyntheticDataset", "TrainOptions",
           "Trainer", "configure", "cyclic_lr", "stage_loss", "train"]
