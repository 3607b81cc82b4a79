"""Benchmarks are not part of the test suite (pyproject's testpaths = tests). Run them with
`python -m pytest benchmarks --benchmark-autosave` and compare runs with
`--benchmark-compare`. Each records the backend, precision and machine in extra_info so a figure
is never read as another backend's."""
from __future__ import annotations

import os
import platform

import pytest
import torch


@pytest.fixture()
def label(benchmark):
    def _label(backend: str, precision: str, device: str, **extra):
        benchmark.extra_info.update(backend=backend, precision=precision, device=device,
                                    cpu_cores=os.cpu_count(), torch_threads=torch.get_num_threads(),
                                    machine=platform.processor() or platform.machine(), **extra)
    return _label
