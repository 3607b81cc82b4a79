"""Model definitions: encoders, the Late Fusion and AdaMatting networks, registry, pre/post-processing pipeline.

Importing the family modules here registers their variants (models/registry.py): every import of
``trtmatte.models.*`` runs this file first, so the registry is always complete."""
from .adamatting import AdaMattingNet, AdaMattingOutput
from .late_fusion import LateFusionNet, LateFusionOutput, blend, count_parameters
from .registry import ModelConfig, Preprocessing, create_model, get_config, list_models

__all__ = [
    "AdaMattingNet", "AdaMattingOutput", "LateFusionNet", "LateFusionOutput", "blend", "count_parameters",
    "ModelConfig", "Preprocessing", "create_model", "get_config", "list_models",
]
