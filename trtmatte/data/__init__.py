"""Training composites (I = alpha*F + (1-alpha)*B), the way matting datasets are built.

``composite`` composes one image, ``augment`` holds the geometric steps (flip, rotation,
crops centred on transition pixels, size cap), ``sources`` reads foregrounds/alphas/backgrounds
from directories, ``synthetic`` makes procedural foregrounds and takes real backgrounds from
scikit-image's bundled photos, and ``calibset`` writes a composite set with its manifest. The
INT8 calibration and the training command both read that set (``read_manifest``).
"""
from .calibset import CalibsetOptions, Sample, build_calibset, compose_sample, load_sample, read_manifest
from .composite import composite, transition_mask

__all__ = ["CalibsetOptions", "Sample", "build_calibset", "compose_sample", "composite", "load_sample", "read_manifest",
           "transition_mask"]
