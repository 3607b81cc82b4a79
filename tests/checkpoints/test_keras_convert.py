"""Keras HDF5 -> trtmatte conversion (trtmatte.checkpoints.keras).

The authors' genuine file is not obtainable here, so the files are fabricated with
write_keras_h5 from a model with randomised weights and BN statistics (a round trip that maps a
tensor to the wrong place, forgets a transpose or skips a BN buffer fails)."""
from __future__ import annotations

import pytest
import torch

h5py = pytest.importorskip("h5py")

from trtmatte.checkpoints.keras import convert_keras_h5, keras_layer_names, write_keras_h5  # noqa: E402
from trtmatte.errors import TrtmatteError  # noqa: E402
from trtmatte.models import create_model  # noqa: E402


def _randomised(variant: str, seed: int = 0) -> torch.nn.Module:
    model = create_model(variant)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 4:  # conv kernel, scaled to keep activations finite through the network
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)
            elif name.endswith("weight"):  # BN gamma
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            else:  # biases, BN beta
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return model.eval()


def _assert_round_trip(model: torch.nn.Module, variant: str, path) -> None:
    state = convert_keras_h5(path, variant)
    fresh = create_model(variant)
    fresh.load_state_dict(state, strict=True)
    ref = model.state_dict()
    assert state.keys() == ref.keys()
    for key, tensor in ref.items():
        assert torch.equal(state[key], tensor), key
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 50
    with torch.no_grad():
        a, b = model(x), fresh(x)
    for name, ta, tb in zip(a._fields, a, b):
        if not isinstance(ta, torch.Tensor):  # training-only side outputs are () in eval mode
            continue
        assert torch.isfinite(ta).all(), name
        assert torch.equal(ta, tb), name


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    model = _randomised("late_fusion")
    path = tmp_path_factory.mktemp("keras") / "late_fusion.h5"
    write_keras_h5(model, path)
    return model, path


@pytest.fixture(scope="module")
def lite(tmp_path_factory):
    model = _randomised("late_fusion_lite", seed=2)
    path = tmp_path_factory.mktemp("keras") / "lite.h5"
    write_keras_h5(model.state_dict(), path, variant="late_fusion_lite")
    return model, path


def test_round_trip_full_model(full):
    model, path = full
    _assert_round_trip(model, "late_fusion", path)


def test_written_file_has_authors_layout(full):
    model, path = full
    with h5py.File(path, "r") as f:
        assert "model_weights" in f
        # Keras names with '/' are nested groups: conv1 -> conv -> conv1 -> conv -> kernel:0
        assert isinstance(f["model_weights"]["conv1"]["conv"], h5py.Group)
        kernel = f["model_weights/conv1/conv/conv1/conv/kernel:0"]
        assert kernel.shape == (7, 7, 3, 64)  # HWIO, torch's (64, 3, 7, 7) transposed
        assert torch.equal(torch.from_numpy(kernel[()]).permute(3, 2, 0, 1),
                           model.encoder.features.conv0.weight)
        assert f["model_weights/deFG_side_2_conv1/deFG_side_2_conv1/kernel:0"].shape == (1, 1, 256, 128)
        assert f["model_weights/fusion_conv0/fusion_conv0/kernel:0"].shape == (3, 3, 384, 256)
        assert "moving_variance:0" in f["model_weights/conv2_block1_0_bn/conv2_block1_0_bn"]
        assert "bn" in f["model_weights"] and "pool4_conv" in f["model_weights"]


def test_layer_names_cover_densenet201():
    names = keras_layer_names(create_model("late_fusion"))
    assert names["conv1/conv"] == "encoder.features.conv0"
    assert names["conv5_block32_2_conv"] == "encoder.features.denseblock4.denselayer32.conv2"
    assert names["pool4_bn"] == "encoder.features.transition3.norm"
    assert names["bn"] == "encoder.features.norm5"
    assert names["deBG_deconv1_bn"] == "bg_decoder.deconv1.bn"
    assert names["deFG_side_0_conv3"] == "fg_decoder.side0.conv3"
    assert "deFG_side_0_conv1" not in names and "deFG_side_3_conv1" in names
    assert names["fusion_bn4"] == "fusion.convs.4.bn"
    assert not any(k.startswith("conv4_block25") for k in keras_layer_names(create_model("late_fusion_lite")))


def test_round_trip_lite_and_root_layout(lite, tmp_path):
    model, path = lite
    _assert_round_trip(model, "late_fusion_lite", path)
    bare = tmp_path / "save_weights.h5"  # save_weights layout: layer groups at the file root
    write_keras_h5(model, bare, variant="late_fusion_lite", root=None)
    with h5py.File(bare, "r") as f:
        assert "model_weights" not in f and "conv1" in f and "fusion_conv_output" in f
    _assert_round_trip(model, "late_fusion_lite", bare)


def _copy(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


@pytest.mark.parametrize("layer", ["deFG_side_2_conv1", "conv1/conv"])
def test_missing_layer_is_named(lite, tmp_path, layer):
    path = _copy(lite[1], tmp_path / "broken.h5")
    with h5py.File(path, "a") as f:
        del f[f"model_weights/{layer}"]
    with pytest.raises(TrtmatteError) as err:
        convert_keras_h5(path, "late_fusion_lite")
    msg = str(err.value)
    assert "\n" not in msg and repr(layer) in msg and "convert-weights --help" in msg


def test_wrong_shape_names_both_shapes(lite, tmp_path):
    path = _copy(lite[1], tmp_path / "broken.h5")
    key = "model_weights/fusion_conv3/fusion_conv3/kernel:0"
    with h5py.File(path, "a") as f:
        del f[key]
        f.create_dataset(key, data=torch.zeros(3, 3, 32, 17).numpy())
    with pytest.raises(TrtmatteError) as err:
        convert_keras_h5(path, "late_fusion_lite")
    msg = str(err.value)
    assert "\n" not in msg and "fusion_conv3" in msg
    assert "(3, 3, 32, 17)" in msg and "(3, 3, 32, 16)" in msg


def test_wrong_variant_counts_problems(lite):
    with pytest.raises(TrtmatteError, match=r"and \d+ more"):
        convert_keras_h5(lite[1], "late_fusion")


def test_not_hdf5(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"this is not an HDF5 file\n" * 10)
    with pytest.raises(TrtmatteError) as err:
        convert_keras_h5(path, "late_fusion_lite")
    assert "\n" not in str(err.value) and "HDF5" in str(err.value)
    with pytest.raises(TrtmatteError, match="not found"):
        convert_keras_h5(tmp_path / "absent.h5", "late_fusion_lite")
