"""models/registry.py: families register their own constructors and variants; the factory looks
them up and names no family. A toy family, no network of ours; < 1 s."""
from __future__ import annotations

import inspect

import pytest
from torch import nn

from trtmatte.errors import TrtmatteError
from trtmatte.models import create_model, get_config, list_models, registry


def test_a_new_family_registers_itself_and_the_factory_builds_it():
    @registry.register_family("test_toy_family")
    def build(cfg):
        return nn.Conv2d(3, 1, cfg.arch["kernel"])

    registry.register(registry.ModelConfig(name="test_toy", family="test_toy_family", description="tests only",
                                           arch={"kernel": 3}))
    try:
        model = create_model("test_toy")
        assert isinstance(model, nn.Conv2d) and model.kernel_size == (3, 3) and not model.training
        assert "test_toy" in list_models() and get_config("test_toy").family == "test_toy_family"
        with pytest.raises(ValueError, match="registered twice"):
            registry.register_family("test_toy_family")(build)
    finally:
        del registry._REGISTRY["test_toy"], registry._FAMILIES["test_toy_family"]


def test_families_register_their_variants_and_the_registry_names_none():
    assert {get_config(v).family for v in list_models()} >= {"late_fusion", "adamatting"}
    factory = inspect.getsource(registry.create_model) + inspect.getsource(registry.get_config)
    assert "late_fusion" not in factory and "adamatting" not in factory


def test_a_family_without_constructor_is_one_line():
    registry.register(registry.ModelConfig(name="test_orphan", family="test_no_such_family", description="tests only"))
    try:
        with pytest.raises(TrtmatteError, match="model family 'test_no_such_family' has no constructor yet"):
            create_model("test_orphan")
    finally:
        del registry._REGISTRY["test_orphan"]
