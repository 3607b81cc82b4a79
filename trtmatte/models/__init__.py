"""Model definitions: encoder, Late Fusion network, registry, pre/post-processing pipeline."""
from .late_fusion import LateFusionNet, LateFusionOutput, blend, count_parameters
from .registry import ModelConfig, Preprocessing, create_model, get_config, list_models

__all__ = [
    "LateFusionNet", "LateFusionOutput", "blend", "count_parameters",
    "ModelConfig", "Preprocessing", "create_model", "get_config", "list_models",
]
