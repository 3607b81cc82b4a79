"""contract/graphio.py: one-line errors on load, checked atomic saves, external data, metadata of a
file without its weights. One-node graphs, < 1 s."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is needed (pip install -e '.[test]')")

from onnx import helper  # noqa: E402

from trtmatte.contract.graphio import (load_onnx, read_metadata_file, save_checked, save_derived,  # noqa: E402
                                       save_model, saved_bytes)
from trtmatte.contract.metadata import read_metadata, stamp_metadata  # noqa: E402
from trtmatte.errors import TrtmatteError  # noqa: E402

from helpers.onnx_graphs import add_graph  # noqa: E402


def test_load_errors_are_one_line(tmp_path):
    with pytest.raises(TrtmatteError, match=r"ONNX file .*missing.onnx not found \(create it with `trtmatte export`\)"):
        load_onnx(tmp_path / "missing.onnx", "testing")
    (tmp_path / "bad.onnx").write_bytes(b"\x00not a protobuf" * 10)
    with pytest.raises(TrtmatteError, match="is not a readable ONNX file") as err:
        load_onnx(tmp_path / "bad.onnx", "testing")
    assert "\n" not in str(err.value)


def test_external_data_past_the_threshold_and_metadata_without_weights(tmp_path):
    model = add_graph()
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.ones(4096, np.float32), "w"))
    stamp_metadata(model, {"variant": "tiny"})
    external = save_model(model, tmp_path / "g.onnx", threshold=1)
    assert external == "g.onnx.data" and sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx", "g.onnx.data"]
    assert saved_bytes(tmp_path / "g.onnx", external) > 4096 * 4
    (tmp_path / "g.onnx.data").unlink()  # metadata is read without the weights
    assert read_metadata_file(tmp_path / "g.onnx") == {"variant": "tiny"}


def test_a_graph_failing_the_checker_writes_nothing(tmp_path):
    model = add_graph()
    model.graph.node[0].input[1] = "nowhere"  # an input nothing produces
    with pytest.raises(TrtmatteError, match="^converted graph fails onnx.checker: "):
        save_checked(model, tmp_path / "g.onnx", "converted graph")
    assert list(tmp_path.iterdir()) == []


def test_derived_graphs_keep_the_metadata_and_merge_updates(tmp_path):
    model = add_graph()
    stamp_metadata(model, {"variant": "tiny", "precision": "fp32"})
    written = save_derived(model, tmp_path / "d.onnx", "fp16 graph", {"precision": "fp16"})
    assert written == (tmp_path / "d.onnx").stat().st_size
    assert read_metadata(load_onnx(tmp_path / "d.onnx", "testing")) == {"variant": "tiny", "precision": "fp16"}
