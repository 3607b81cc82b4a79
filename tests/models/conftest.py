"""Fixtures only tests/models/ uses."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

# torchvision's densenet201 state_dict keys, dtypes and shapes (the file's first line says how it was
# made): the encoder's key compatibility is checked against it without installing torchvision.
REFERENCE = Path(__file__).resolve().parent / "reference" / "torchvision_densenet201_state_dict.tsv"


@pytest.fixture(scope="session")
def densenet201_reference() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def late_fusion():
    from trtmatte.models import create_model

    torch.manual_seed(0)
    return create_model("late_fusion")
