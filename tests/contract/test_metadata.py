"""contract/metadata.py: trtmatte's metadata_props read and stamped, a graph's precision. Graphs of
one node built with onnx.helper, < 1 s."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is needed (pip install -e '.[test]')")

from onnx import helper  # noqa: E402

from trtmatte.contract.metadata import graph_precision, read_metadata, stamp_metadata, stamped_precision  # noqa: E402

from helpers.onnx_graphs import add_graph  # noqa: E402


def test_stamp_replaces_trtmatte_entries_and_keeps_other_producers():
    model = add_graph()
    helper.set_model_props(model, {"producer.note": "kept", "trtmatte.variant": "old"})
    stamp_metadata(model, {"variant": "late_fusion_lite", "precision": "fp16"})
    assert read_metadata(model) == {"variant": "late_fusion_lite", "precision": "fp16"}
    assert {p.key: p.value for p in model.metadata_props}["producer.note"] == "kept"
    assert stamped_precision(read_metadata(model)) == "fp16"
    assert stamped_precision({}) == "fp32"  # exported graphs carry no precision entry


def test_graph_precision_comes_from_the_tensors():
    assert graph_precision(add_graph()) == "fp32"
    assert graph_precision(add_graph(np.float16)) == "fp16"
    assert graph_precision(add_graph(ops=("QuantizeLinear",))) == "int8"
