"""The PyTorch backend's inference forms (trtmatte/models/inference.py): BatchNorm folded into the
convolutions before it, and float16 with float32 output heads. Checked on both families with
BatchNorm statistics far from the identity, so a wrong fold cannot hide."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trtmatte.models import create_model
from trtmatte.models.inference import count_batchnorms, fold_batchnorm, to_half

# (variant, BatchNorms, left after folding): the ones after a ReLU or a concatenation stay
# (DenseNet's pre-activation norm1, the transitions' norms, norm5; AdaMatting's after a sum)
CASES = [("late_fusion_lite", 137, 62), ("adamatting_lite", 49, 10)]


def _network(variant: str) -> nn.Module:
    torch.manual_seed(0)
    network = create_model(variant).eval()
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return network


def _inputs(network: nn.Module) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 64, 96, generator=generator)
    if getattr(network, "needs_trimap", False):
        return x, torch.rand(2, 3, 64, 96, generator=generator)
    return (x,)


@pytest.mark.parametrize("variant,before,after", CASES)
def test_folding_removes_conv_batchnorm_pairs_and_keeps_alpha(variant, before, after):
    network = _network(variant)
    folded = fold_batchnorm(network)
    assert (count_batchnorms(network), count_batchnorms(folded)) == (before, after)
    inputs = _inputs(network)
    with torch.no_grad():
        reference, out = network(*inputs), folded(*inputs)
    assert type(out) is type(reference)
    for name in reference._fields:
        a, b = getattr(reference, name), getattr(out, name)
        if isinstance(a, torch.Tensor):
            assert torch.allclose(a, b, atol=1e-5, rtol=0), (name, float((a - b).abs().max()))
    assert count_batchnorms(network) == before  # the original is left as it was


@pytest.mark.parametrize("variant", [c[0] for c in CASES])
def test_half_network_runs_float16_with_float32_heads(variant):
    """Weights and activations float16; F, B, beta and the blend float32; alpha within 1/255 of FP32."""
    network = _network(variant)
    half = to_half(fold_batchnorm(network))
    convs = [m for m in half.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(m.weight.dtype == torch.float16 for m in convs)
    inputs = _inputs(network)
    with torch.no_grad():
        reference, out = network(*inputs), half(*inputs)  # float32 in, like the original
    assert out.alpha.dtype == torch.float32
    if variant.startswith("late_fusion"):
        assert all(getattr(out, name).dtype == torch.float32 for name in ("fg", "bg", "beta"))
        # the blend in float32: alpha is exactly eq. 2 of the float32 F, B, beta it returned
        assert torch.equal(out.alpha, out.beta * out.fg + (1 - out.beta) * (1 - out.bg))
    assert all(p.dtype == torch.float32 for p in network.parameters())  # the original stays float32
    error = float((out.alpha - reference.alpha).abs().max())
    assert 0 < error <= 1 / 255, error  # float16 did change something, and not much


def test_an_untraceable_network_is_a_one_line_error():
    from trtmatte.models.inference import trace

    class DataDependent(nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(ValueError, match=r"DataDependent cannot be traced by torch.fx \("):
        trace(DataDependent())


def test_torch_session_runs_the_folded_network_on_cpu():
    """TorchSession folds by default (fp32) and says so; the session's alpha matches the eager network's."""
    from trtmatte.models import get_config
    from trtmatte.runtime.torch_session import TorchSession

    network = _network("late_fusion_lite")
    pre = get_config("late_fusion_lite").preprocessing
    folded = TorchSession(network, pre, "late_fusion_lite")
    eager = TorchSession(network, pre, "late_fusion_lite", fold_batchnorm=False)
    assert folded.inference_form.startswith("75 of 137 BatchNorms folded") and eager.inference_form == "as given"
    image = np.random.default_rng(2).integers(0, 256, (1, 70, 90, 3), dtype=np.uint8)
    assert np.abs(folded.run(image) - eager.run(image)).max() < 1e-5
