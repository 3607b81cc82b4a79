"""Model definitions: encoders, the Late Fusion and AdaMatting networks, registry, pre/post-processing pipeline."""
from .adamatting import AdaMattingNet, AdaMattingOutput
from .late_fusion import LateFusionNet, LateFusionOutput, blend, count_parameters
from .registry import ModelConfig, Preprocessing, create_model, get_config, list_models

__all__ = [
    "AdaMattingNet", "AdaMattingOutput", "LateFusionNet", "LateFusionOutput", "blend", "count_parameters",
    "ModelConfig", "Preprocessing", "create_model", "get_config", "list_models",
]
