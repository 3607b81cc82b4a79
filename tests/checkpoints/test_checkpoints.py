"""trtmatte checkpoints: round trip, metadata, and one-line errors on bad files."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from trtmatte.checkpoints.native import load_model, load_state, save_checkpoint
from trtmatte.errors import TrtmatteError
from trtmatte.models import create_model

from helpers.weights import randomize_


@pytest.fixture(scope="module")
def lite_random():
    return randomize_(create_model("late_fusion_lite"), seed=3)


def test_round_trip_fp32(tmp_path, lite_random):
    path = save_checkpoint(lite_random, tmp_path / "m.safetensors", "late_fusion_lite", provenance={"weights": "test"})
    model, info = load_model(path)
    assert info.variant == "late_fusion_lite" and info.format == "trtmatte"
    assert info.provenance == {"weights": "test"} and len(info.sha256) == 64
    for k, v in lite_random.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert not model.training


def test_metadata_records_config(tmp_path, lite_random):
    path = save_checkpoint(lite_random, tmp_path / "m.safetensors", "late_fusion_lite")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["format"] == "trtmatte-checkpoint" and meta["variant"] == "late_fusion_lite"
    cfg = json.loads(meta["config"])
    assert cfg["encoder"] == "densenet121" and cfg["preprocessing"]["max_side"] == 800


def test_fp16_storage_loads_as_fp32(tmp_path, lite_random):
    path = save_checkpoint(lite_random, tmp_path / "h.safetensors", "late_fusion_lite", dtype=torch.float16)
    state, _ = load_state(path)
    w = state["fusion.conv_output.weight"]
    assert w.dtype == torch.float32
    assert torch.equal(w, lite_random.state_dict()["fusion.conv_output.weight"].half().float())
    assert state["encoder.features.norm0.num_batches_tracked"].dtype == torch.int64


def test_missing_file():
    with pytest.raises(TrtmatteError, match="not found"):
        load_model("/nonexistent/model.safetensors")


def test_truncated_file(tmp_path, lite_random):
    path = save_checkpoint(lite_random, tmp_path / "m.safetensors", "late_fusion_lite")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TrtmatteError, match="not a readable safetensors file"):
        load_model(path)


def test_missing_key_named(tmp_path, lite_random):
    state = {k: v.contiguous() for k, v in lite_random.state_dict().items() if k != "fusion.convs.3.bn.weight"}
    path = tmp_path / "m.safetensors"
    save_file(state, str(path), metadata={"format": "trtmatte-checkpoint", "variant": "late_fusion_lite"})
    with pytest.raises(TrtmatteError, match=r"missing 'fusion\.convs\.3\.bn\.weight' \(16\)"):
        load_model(path)


def test_checkpoint_for_another_variant(tmp_path, lite_random):
    path = save_checkpoint(lite_random, tmp_path / "m.safetensors", "late_fusion_lite")
    with pytest.raises(TrtmatteError, match="holds variant 'late_fusion_lite', not 'late_fusion'"):
        load_model(path, "late_fusion")


def test_wrong_shapes_name_key_and_shapes(tmp_path, lite_random):
    """A lite checkpoint whose metadata claims the paper's variant: first mismatch reported."""
    state = {k: v.contiguous() for k, v in lite_random.state_dict().items()}
    path = tmp_path / "m.safetensors"
    save_file(state, str(path), metadata={"format": "trtmatte-checkpoint", "variant": "late_fusion"})
    # DenseNet-121 and -201 agree up to transition3 (1024 vs 1792 input channels)
    with pytest.raises(TrtmatteError, match=r"does not fit model variant 'late_fusion': 'encoder\.features\.transition3"
                                            r"\.norm\.weight' has shape 1024, expected 1792 \(and \d+ more\)"):
        load_model(path)


def test_plain_safetensors_without_metadata(tmp_path):
    path = tmp_path / "x.safetensors"
    save_file({"a": torch.zeros(1)}, str(path))
    with pytest.raises(TrtmatteError, match="without trtmatte metadata"):
        load_model(path)


def test_unknown_format(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"hello world, no weights here")
    with pytest.raises(TrtmatteError, match="not a weights file trtmatte knows"):
        load_model(path)


def test_imagenet_only_file_is_refused_with_hint(tmp_path):
    path = tmp_path / "densenet201.pth"
    torch.save({"features.conv0.weight": torch.zeros(64, 3, 7, 7), "classifier.bias": torch.zeros(1000)}, path)
    with pytest.raises(TrtmatteError, match="initialises the encoder only.*init-weights --imagenet"):
        load_model(path)


def test_torch_state_dict_of_full_model(tmp_path, lite_random):
    path = tmp_path / "full.pth"
    torch.save(lite_random.state_dict(), path)
    model, info = load_model(path, "late_fusion_lite")
    assert info.format == "torch-state-dict"
    assert torch.equal(model.fusion.conv_rgb.weight, lite_random.fusion.conv_rgb.weight)


def test_save_leaves_nothing_half_written(tmp_path, lite_random, monkeypatch):
    import trtmatte.checkpoints.native as native

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", boom)
    with pytest.raises(RuntimeError):
        native.save_checkpoint(lite_random, tmp_path / "m.safetensors", "late_fusion_lite")
    assert list(tmp_path.iterdir()) == []


def test_safetensors_header_length_0x80_is_not_taken_for_a_pickle(tmp_path):
    """A safetensors file starts with its header length (u64 little endian); when the low byte is
    0x80 it must still be read as safetensors, not as a pickle's PROTO opcode (1 file in 256)."""
    from safetensors.torch import save_file

    from trtmatte.checkpoints.native import _sniff

    path = tmp_path / "w.safetensors"
    for pad in range(600):
        save_file({"x": torch.zeros(2)}, str(path), metadata={"format": "trtmatte-checkpoint", "pad": "p" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80
    assert _sniff(path) == "trtmatte"
    legacy = tmp_path / "legacy.pt"
    torch.save({"x": torch.zeros(2)}, str(legacy), _use_new_zipfile_serialization=False)
    assert legacy.read_bytes()[:1] == b"\x80" and _sniff(legacy) == "torch-state-dict"
