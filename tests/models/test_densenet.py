"""The encoder must be torchvision's densenet201 layout, key for key, shape for shape."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trtmatte.checkpoints.torchvision import filter_torchvision_densenet, load_imagenet_encoder
from trtmatte.errors import TrtmatteError
from trtmatte.models.densenet import densenet201_encoder


def read_reference(reference):
    rows = {}
    for line in Path(reference).read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, dtype, shape = line.split("\t")
        rows[key] = (dtype, () if shape == "scalar" else tuple(int(s) for s in shape.split("x")))
    return rows


def test_state_dict_matches_torchvision_reference(densenet201_reference):
    ref = read_reference(densenet201_reference)
    ref_features = {k: v for k, v in ref.items() if not k.startswith("classifier.")}
    assert len(ref_features) > 1000  # the table really was read
    mine = densenet201_encoder().state_dict()
    assert list(mine) == list(ref_features)  # same keys, same order
    for key, (dtype, shape) in ref_features.items():
        assert tuple(mine[key].shape) == shape, key
        assert str(mine[key].dtype).replace("torch.", "") == dtype, key


def _fake_torchvision_file(densenet201_reference, tmp_path, old_style: bool, prefix: str = ""):
    """A state_dict shaped like torchvision's file, with distinct values per key."""
    state = {}
    for i, (key, (dtype, shape)) in enumerate(read_reference(densenet201_reference).items()):
        t = torch.full(shape, float(i)) if dtype == "float32" else torch.tensor(i, dtype=torch.int64)
        if old_style:  # the published .pth spells norm.1 / conv.2 (torchvision remaps on load)
            for a in ("norm1", "norm2", "conv1", "conv2", "relu1", "relu2"):
                key = key.replace(f".{a}.", f".{a[:-1]}.{a[-1]}.")
        state[prefix + key] = t
    path = tmp_path / "densenet201.pth"
    torch.save(state, path)
    return path, state


@pytest.mark.parametrize("old_style,prefix", [(False, ""), (True, ""), (False, "module.")])
def test_imagenet_weights_load_strict(densenet201_reference, tmp_path, old_style, prefix):
    path, state = _fake_torchvision_file(densenet201_reference, tmp_path, old_style, prefix)
    enc = densenet201_encoder()
    load_imagenet_encoder(enc, path)
    got = enc.state_dict()
    assert torch.equal(got["features.conv0.weight"], torch.zeros(64, 3, 7, 7))  # key index 0
    ref_keys = list(read_reference(densenet201_reference))
    k = "features.denseblock3.denselayer40.norm2.running_var"
    assert torch.equal(got[k], torch.full_like(got[k], float(ref_keys.index(k))))


def test_old_style_key_remap():
    out = filter_torchvision_densenet({"features.denseblock1.denselayer1.norm.1.weight": torch.ones(1),
                                       "features.transition1.norm.weight": torch.ones(1),
                                       "classifier.weight": torch.ones(1)})
    assert list(out) == ["features.denseblock1.denselayer1.norm1.weight", "features.transition1.norm.weight"]


def test_truncated_imagenet_file_names_first_missing_key(densenet201_reference, tmp_path):
    path, state = _fake_torchvision_file(densenet201_reference, tmp_path, False)
    state.pop("features.denseblock2.denselayer5.conv2.weight")
    torch.save(state, path)
    with pytest.raises(TrtmatteError, match=r"missing 'features\.denseblock2\.denselayer5\.conv2\.weight' \(32x128x3x3\)"):
        load_imagenet_encoder(densenet201_encoder(), path)


def test_wrong_shape_names_both_shapes(densenet201_reference, tmp_path):
    path, state = _fake_torchvision_file(densenet201_reference, tmp_path, False)
    state["features.conv0.weight"] = torch.zeros(64, 3, 3, 3)
    torch.save(state, path)
    with pytest.raises(TrtmatteError, match=r"'features\.conv0\.weight' has shape 64x3x3x3, expected 64x3x7x7"):
        load_imagenet_encoder(densenet201_encoder(), path)


def test_not_a_torch_file(tmp_path):
    bad = tmp_path / "x.pth"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(TrtmatteError, match="cannot read .* as a PyTorch state_dict"):
        load_imagenet_encoder(densenet201_encoder(), bad)


def test_taps_strides_and_channels():
    enc = densenet201_encoder().eval()
    with torch.no_grad():
        taps = enc(torch.randn(1, 3, 64, 96))
    assert [t.shape[1] for t in taps] == [64, 256, 512, 1792, 1920]
    assert [(t.shape[2], t.shape[3]) for t in taps] == [(32, 48), (16, 24), (8, 12), (4, 6), (2, 3)]


def test_bottleneck_has_no_relu():
    enc = densenet201_encoder().eval()
    with torch.no_grad():
        assert (enc(torch.randn(1, 3, 64, 64)).bottleneck < 0).any()


def test_encoder_matches_a_plain_reimplementation():
    """Taps equal a direct call of the torchvision-named modules in the torchvision order."""
    enc = densenet201_encoder().eval()
    x = torch.randn(1, 3, 64, 64)
    f = enc.features
    with torch.no_grad():
        taps = enc(x)
        y = f.pool0(f.relu0(f.norm0(f.conv0(x))))
        for i in (1, 2, 3):
            block_out = f._modules[f"denseblock{i}"](y)
            assert torch.equal(block_out, taps[i])
            y = f._modules[f"transition{i}"](block_out)
        assert torch.allclose(f.norm5(f.denseblock4(y)), taps.bottleneck)


def test_bn_eps_is_keras_densenet():
    enc = densenet201_encoder()
    eps = {m.eps for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert eps == {1.001e-5}
