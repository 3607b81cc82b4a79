"""Training per the papers: one file per family (``late_fusion_training``: Late Fusion's losses and
three stages; ``adamatting_training``: AdaMatting's multi-task stage), each registering its recipe
(``recipes``, looked up by the variant's family), data, and the loop.

Library only (the CLI is ``trtmatte train``, :mod:`trtmatte.cli.train_cmd`). Importing this package
imports torch but nothing optional; matplotlib is imported when the loss curve is drawn.
"""
from .dataset import AugmentOptions, CompositeSetDataset, IndexStream, SyntheticDataset
from . import adamatting_training  # noqa: F401  (registers AdaMatting's recipe)
from .late_fusion_training import STAGES, configure, stage_loss
from .recipes import cyclic_lr
from .trainer import TrainOptions, Trainer, train

__all__ = ["AugmentOptions", "CompositeSetDataset", "IndexStream", "STAGES", "SyntheticDataset", "TrainOptions",
           "Trainer", "configure", "cyclic_lr", "stage_loss", "train"]
