"""Training per the paper: each loss on hand-made cases, stage freezing, the cyclic LR, data,
a tiny end-to-end run whose loss decreases, checkpoint/resume, and `trtmatte train` errors.

The end-to-end runs use a tiny LateFusionNet registered for this module only (a 4-layer DenseNet,
8-wide decoders), so the whole file takes seconds on 2 cores."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from trtmatte.errors import TrtmatteError
from trtmatte.models import late_fusion, registry
from trtmatte.models.densenet import DenseNetEncoder
from trtmatte.models.late_fusion import blend
from trtmatte.train import late_fusion_training as training, recipes
from trtmatte.train.dataset import AugmentOptions, CompositeSetDataset, SyntheticDataset
from trtmatte.train.trainer import TrainOptions, TrainState, stage_budgets, train

pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos (synthetic data)")

TINY = "test_train_tiny"


@pytest.fixture(scope="module", autouse=True)
def tiny_variant():
    """A registry variant small enough to train in milliseconds a step (removed after the module).
    One torch thread: with layers this small, a second thread only adds synchronisation."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    late_fusion.ENCODERS["test_tiny_densenet"] = lambda eps: DenseNetEncoder((1, 1, 1, 1), growth=4, init_features=8,
                                                                            bn_size=2, eps=eps)
    registry.register(registry.ModelConfig(name=TINY, family="late_fusion", description="tests only",
                                           encoder="test_tiny_densenet", decoder_width=8, rgb_width=4,
                                           fusion_widths=(8, 8), decoder_block_widths=(8, 8, 8)))
    yield
    del registry._REGISTRY[TINY], late_fusion.ENCODERS["test_tiny_densenet"]
    torch.set_num_threads(threads)


def full(value: float, size: int = 4) -> torch.Tensor:
    return torch.full((1, 1, size, size), float(value))


# ---- losses -----------------------------------------------------------------------------------

def test_fusion_gradient_vanishes_when_f_plus_b_is_one():
    """Paper Eq. 3: d alpha / d beta = F + B - 1, so beta learns nothing where F + B = 1."""
    alpha = torch.rand(1, 1, 8, 8)
    fg = torch.rand(1, 1, 8, 8)
    beta = torch.rand(1, 1, 8, 8, requires_grad=True)
    training.fusion_loss(blend(beta, fg, 1 - fg), alpha).backward()
    assert beta.grad.abs().max() == 0
    beta.grad = None
    training.fusion_loss(blend(beta, fg, (1 - fg) * 0.5), alpha).backward()  # F + B != 1: gradients flow
    assert beta.grad.abs().min() > 0


def test_cross_entropy_binarises_at_0_05():
    p = full(0.9)
    # alpha 0.05 is not > 0.05: target 0; 0.06 is: target 1 (both in the transition, weight 0.5)
    assert training.cross_entropy(p, full(0.05)).item() == pytest.approx(0.5 * -math.log(0.1), rel=1e-5)
    assert training.cross_entropy(p, full(0.06)).item() == pytest.approx(0.5 * -math.log(0.9), rel=1e-5)


def test_cross_entropy_weights_solid_1_transition_half():
    p = full(0.9)
    assert training.cross_entropy(p, full(1.0)).item() == pytest.approx(-math.log(0.9), rel=1e-5)
    assert training.cross_entropy(p, full(0.0)).item() == pytest.approx(-math.log(0.1), rel=1e-5)
    assert training.cross_entropy(p, full(0.5)).item() == pytest.approx(0.5 * -math.log(0.9), rel=1e-5)


def test_difference_is_l2_on_solid_and_l1_in_transition():
    assert training.difference(full(0.3), full(0.0)).item() == pytest.approx(0.09)
    assert training.difference(full(0.7), full(1.0)).item() == pytest.approx(0.09)
    assert training.difference(full(0.8), full(0.5)).item() == pytest.approx(0.3)
    # mixed: half solid (error 0.5 -> 0.25), half transition (error 0.5 -> 0.5)
    alpha = torch.tensor([[[[0.0, 0.5]]]])
    assert training.difference(torch.tensor([[[[0.5, 1.0]]]]), alpha).item() == pytest.approx((0.25 + 0.5) / 2)


def test_gradient_loss_compares_finite_differences():
    ramp = torch.linspace(0, 1, 5).view(1, 1, 1, 5).expand(1, 1, 5, 5)
    assert training.gradient(ramp, ramp).item() == 0
    assert training.gradient(ramp + 0.25, ramp).item() == pytest.approx(0, abs=1e-7)  # an offset: same gradients
    # a flat prediction misses the ramp's x-step of 0.25 everywhere, and has no y-gradient to miss
    assert training.gradient(full(0.5, 5), ramp).item() == pytest.approx(0.25)


def test_background_branch_uses_one_minus_alpha():
    alpha = torch.tensor([[[[0.0, 0.02, 0.5, 0.97, 1.0]]]]).expand(1, 1, 4, 5)
    perfect = training.segmentation_loss([alpha], [1 - alpha], alpha)
    # F = alpha and B = 1 - alpha: no L_d or L_g, only the CE of both branches remains
    assert perfect.fg.item() == pytest.approx(training.cross_entropy(alpha, alpha).item())
    assert perfect.bg.item() == pytest.approx(training.cross_entropy(1 - alpha, 1 - alpha).item())
    # B's CE target is [1 - alpha > 0.05]: at alpha = 0.97 (1 - alpha = 0.03) B is pushed to 0
    p = full(0.9, 2)
    assert training.segmentation_loss([p], [p], full(0.97, 2)).bg.item() == pytest.approx(
        0.5 * -math.log(0.1) + 0.87 + 0.0, rel=1e-5)


def test_side_losses_at_every_decoder_scale():
    blocks = (torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    alpha = torch.nn.functional.interpolate(blocks, scale_factor=8.0, mode="nearest")
    sides = [full(c, s) for c, s in ((0.2, 4), (0.4, 8), (0.6, 16), (0.8, 32))]  # strides 8, 4, 2, 1
    seg = training.segmentation_loss(sides, sides, alpha)
    assert len(seg.fg_sides) == len(seg.bg_sides) == 4
    for term, c in zip(seg.fg_sides, (0.2, 0.4, 0.6, 0.8)):  # each side upsampled to full size
        assert term.item() == pytest.approx(training.branch_loss(full(c, 32), alpha).total.item(), rel=1e-5)
    assert seg.total.item() == pytest.approx(sum(t.item() for t in seg.fg_sides + seg.bg_sides), rel=1e-5)
    # a better coarse side lowers only its own term
    better = training.segmentation_loss([blocks * 0.9 + 0.05, *sides[1:]], sides, alpha)
    assert better.fg_sides[0] < seg.fg_sides[0]
    assert all(torch.equal(x, y) for x, y in zip(better.fg_sides[1:] + better.bg_sides, seg.fg_sides[1:] + seg.bg_sides))


def test_fusion_loss_weights_transition_1_elsewhere_0_1():
    alpha = torch.tensor([[[[0.0, 1.0, 0.5, 0.5]]]])
    solid_error = torch.tensor([[[[0.4, 0.6, 0.5, 0.5]]]])
    transition_error = torch.tensor([[[[0.0, 1.0, 0.9, 0.1]]]])
    assert training.fusion_loss(solid_error, alpha).item() == pytest.approx(0.1 * 0.8 / 4)
    assert training.fusion_loss(transition_error, alpha).item() == pytest.approx(0.8 / 4)


def test_softness_and_joint_loss():
    assert training.softness_loss(torch.tensor([0.0, 1.0])).item() == pytest.approx(1.0, abs=1e-4)
    assert training.softness_loss(torch.tensor([0.5])).item() == pytest.approx(2 * 0.5 ** 0.9)
    alpha = torch.rand(1, 1, 8, 8)
    pred = torch.rand(1, 1, 8, 8)
    sides = [torch.rand(1, 1, 8, 8)]
    j = training.joint_loss(pred, sides, sides, alpha)
    expected = (training.fusion_loss(pred, alpha) + 0.5 * training.segmentation_loss(sides, sides, alpha).total
                + 0.01 * training.softness_loss(pred))
    assert j.total.item() == pytest.approx(expected.item(), rel=1e-6)


# ---- stages and schedule ------------------------------------------------------------------------

def tiny_model():
    torch.manual_seed(0)
    return registry.create_model(TINY)


def batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 3, 64, 64, generator=g) * 50, (torch.rand(2, 1, 64, 64, generator=g) * 1.4 - 0.2).clamp(0, 1)


def _grads(model, prefix):
    return [p.grad for n, p in model.named_parameters() if n.startswith(prefix)]


def _bns(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def test_segmentation_stage_trains_encoder_and_decoders_only():
    model = tiny_model()
    training.configure(model, "segmentation")
    training.stage_loss(model, "segmentation", *batch()).total.backward()
    assert all(g is not None for p in ("encoder", "fg_decoder", "bg_decoder") for g in _grads(model, p))
    assert all(g is None for g in _grads(model, "fusion"))
    assert all(m.training for m in _bns(model))


def test_fusion_stage_freezes_segmentation():
    model = tiny_model()
    params = training.configure(model, "fusion")
    assert {id(p) for p in params} == {id(p) for p in model.fusion.parameters()}
    seg_stats = model.encoder.features.norm0.running_mean.clone()
    training.stage_loss(model, "fusion", *batch()).total.backward()
    assert all(g is not None for g in _grads(model, "fusion"))
    assert all(g is None for p in ("encoder", "fg_decoder", "bg_decoder") for g in _grads(model, p))
    assert not any(m.training for m in _bns(model.encoder) + _bns(model.fg_decoder))
    assert all(m.training for m in _bns(model.fusion))
    assert torch.equal(model.encoder.features.norm0.running_mean, seg_stats)


def test_joint_stage_freezes_every_batchnorm():
    model = tiny_model()
    training.configure(model, "joint")
    stats = [m.running_var.clone() for m in _bns(model)]
    training.stage_loss(model, "joint", *batch()).total.backward()
    assert model.training and not any(m.training for m in _bns(model))
    assert all(m.weight.grad is None and m.bias.grad is None for m in _bns(model))
    assert all(p.grad is not None for n, p in model.named_parameters() if ".conv" in n and p.requires_grad)
    assert model.fusion.conv_output.weight.grad is not None and model.encoder.features.conv0.weight.grad is not None
    assert all(torch.equal(m.running_var, s) for m, s in zip(_bns(model), stats))


def test_cyclic_lr_triangle():
    values = [recipes.cyclic_lr(s, 5e-4, 1.5e-3, 100) for s in (0, 50, 100, 150, 200, 300, 400)]
    assert values == pytest.approx([5e-4, 1e-3, 1.5e-3, 1e-3, 5e-4, 1.5e-3, 5e-4])
    assert training.stage_lrs("segmentation") == pytest.approx((5e-4, 1.5e-3))
    assert training.stage_lrs("fusion") == pytest.approx((5e-4, 1.5e-3))
    assert training.stage_lrs("joint") == pytest.approx((5e-4, 1e-3))
    assert training.stage_lrs("joint", 1e-4) == pytest.approx((1e-4, 2e-4))  # the paper's ratios kept


def test_time_budget_split_in_paper_ratio():
    options = TrainOptions(minutes=26 / 60, steps=(10, 10, 10))
    assert stage_budgets(options, TrainState()) == pytest.approx([15, 4, 7])
    # a finished first stage that used only 5 s leaves its time to the others
    state = TrainState(stage_index=1, seconds=[5.0, 0.0, 0.0])
    assert stage_budgets(options, state) == pytest.approx([0, 21 * 4 / 11, 21 * 7 / 11])


# ---- data ---------------------------------------------------------------------------------------

def test_synthetic_dataset_deterministic_shapes():
    ds = SyntheticDataset(AugmentOptions(crop=64, seed=3), fg_count=3)
    a, b, c = ds[5], SyntheticDataset(AugmentOptions(crop=64, seed=3), fg_count=3)[5], ds[6]
    assert a["image"].shape == (3, 64, 64) and a["image"].dtype == torch.uint8
    assert a["alpha"].shape == (1, 64, 64) and a["alpha"].dtype == torch.float32
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["alpha"], b["alpha"])
    assert not torch.equal(a["image"], c["image"])
    levels = a["alpha"] * 255
    assert torch.allclose(levels, levels.round(), atol=1e-3)  # 8-bit levels: exact 0 and 1
    assert ((a["alpha"] > 0) & (a["alpha"] < 1)).any()  # crops are centred on the transition


def test_composite_set_dataset(tmp_path):
    from trtmatte.data import CalibsetOptions, build_calibset
    from trtmatte.data.synthetic import skimage_backgrounds, synthetic_foregrounds

    build_calibset(synthetic_foregrounds(2, 96, 0, logo=False), skimage_backgrounds()[:2], tmp_path / "set",
                   CalibsetOptions(count=3, crop_sizes=(64, 96), max_side=96))
    ds = CompositeSetDataset(tmp_path / "set", AugmentOptions(crop=64, seed=1))
    assert len(ds) == 3
    for i in range(4):  # index 3 wraps to the first sample, with other random choices
        s = ds[i]
        assert s["image"].shape == (3, 64, 64) and s["alpha"].shape == (1, 64, 64)
    assert torch.equal(ds[2]["image"], ds[2]["image"])
    big = CompositeSetDataset(tmp_path / "set", AugmentOptions(crop=128))[0]  # sources are smaller: resized up
    assert big["image"].shape == (3, 128, 128)
    with pytest.raises(TrtmatteError, match="multiple of 32"):
        AugmentOptions(crop=100).check()


# ---- end to end -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_data():
    return SyntheticDataset(AugmentOptions(crop=64, seed=0), fg_count=4)


def test_tiny_run_loss_decreases_and_writes_outputs(tmp_path, tiny_data):
    log = train(TrainOptions(variant=TINY, steps=(40, 6, 6), batch=4, log_every=1, half_cycle=20,
                             checkpoint_every=100, base_lr=2e-3), tiny_data, tmp_path, progress=False)
    seg = [r["loss"] for r in log["history"] if r["stage"] == "segmentation"]
    assert len(seg) == 40 and np.mean(seg[-8:]) < 0.8 * np.mean(seg[:8]), seg
    assert log["global_step"] == 52 and [s["steps"] for s in log["stages"].values()] == [40, 6, 6]
    assert {"L_u", "L_F+L_B", "L_s"} <= set(log["history"][-1])
    for name in ("model.safetensors", "model_fp16.safetensors", "loss_curve.png", "train_log.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "train_log.json").read_text())["global_step"] == 52

    from trtmatte.checkpoints.native import load_model

    model, info = load_model(tmp_path / "model_fp16.safetensors")
    assert info.variant == TINY and info.provenance["stages"]["joint"]["steps"] == 6
    assert all(t.dtype == torch.float32 for t in model.state_dict().values() if t.is_floating_point())


def test_resume_continues_the_step_count(tmp_path, tiny_data):
    options = TrainOptions(variant=TINY, steps=(4, 2, 2), batch=2, log_every=1, checkpoint_every=3)
    first = tmp_path / "first"
    train(options, tiny_data, first, progress=False)
    ckpts = sorted(p.name for p in (first / "checkpoints").glob("*.safetensors"))
    assert ckpts == ["step_0000003.safetensors", "step_0000006.safetensors", "step_0000008.safetensors"]
    # resume from step 3 (inside the segmentation stage): 5 more steps, the counts continue
    log = train(options, tiny_data, tmp_path / "second", resume=first / "checkpoints" / "step_0000003.safetensors",
                progress=False)
    steps = [r["step"] for r in log["history"]]
    assert steps == [1, 2, 3, 4, 5, 6, 7, 8] and log["global_step"] == 8
    assert [s["steps"] for s in log["stages"].values()] == [4, 2, 2]
    # a finished run resumed from its directory does nothing more
    again = train(options, tiny_data, first, resume=first, progress=False)
    assert again["global_step"] == 8


def test_minutes_budget_stops_training(tmp_path, tiny_data):
    log = train(TrainOptions(variant=TINY, steps=(10**9, 10**9, 10**9), minutes=0.05, batch=2),
                tiny_data, tmp_path, progress=False)
    assert all(s["steps"] > 0 for s in log["stages"].values())
    assert sum(s["seconds"] for s in log["stages"].values()) < 0.05 * 60 + 2


# ---- CLI ----------------------------------------------------------------------------------------

def test_cli_trains(tmp_path, capsys):
    from trtmatte.cli.main import main

    assert main(["train", "--synthetic", "--synthetic-count", "2", "--variant", TINY, "--steps", "2", "1", "1",
                 "--crop", "64", "--batch", "2", "-o", str(tmp_path), "--no-progress"]) == 0
    assert "trained test_train_tiny for 4 steps" in capsys.readouterr().out
    assert json.loads((tmp_path / "train_log.json").read_text())["data"]["kind"] == "synthetic"


@pytest.mark.parametrize("args, message", [
    ([], "give either --data DIR"),
    (["--synthetic", "--data", "x"], "give either --data DIR"),
    (["--data", "/nonexistent/set"], "--data /nonexistent/set: directory not found"),
    (["--synthetic", "--crop", "100"], "--crop must be a multiple of 32"),
    (["--synthetic", "--steps", "0", "0", "0"], "--steps needs 3 counts"),
    (["--synthetic", "--batch", "0"], "--batch must be at least 1"),
    (["--synthetic", "--minutes", "0"], "--minutes must be > 0"),
    (["--synthetic", "--variant", "nope"], "unknown model variant 'nope'"),
    (["--synthetic", "--device", "cuda"], "sees no CUDA GPU"),
    (["--synthetic", "--imagenet", "/nonexistent.pth"], "--imagenet /nonexistent.pth: file not found"),
    (["--synthetic", "--resume", "/nonexistent/ckpt.safetensors"], "file not found"),
])
def test_cli_errors_one_line(tmp_path, capsys, args, message):
    from trtmatte.cli.main import main

    if args == ["--synthetic", "--device", "cuda"] and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU, so --device cuda is valid")
    argv = ["train", *args, "-o", str(tmp_path / "out"), "--no-progress"]
    argv += [] if "--variant" in args else ["--variant", TINY]
    argv += [] if "--crop" in args else ["--crop", "64"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("trtmatte: error: ") and message in err and err.count("\n") == 1, err


def test_cli_output_is_a_file(tmp_path, capsys):
    from trtmatte.cli.main import main

    target = tmp_path / "file"
    target.write_text("x")
    assert main(["train", "--synthetic", "-o", str(target)]) == 1
    assert "exists and is not a directory" in capsys.readouterr().err


# ---- FP16 copy and the bundled demo model ---------------------------------------------------------

def test_save_fp16_copy_keeps_provenance(tmp_path):
    from safetensors import safe_open

    from trtmatte.checkpoints.native import load_model, save_checkpoint, save_fp16_copy

    src = save_checkpoint(tiny_model(), tmp_path / "m.safetensors", TINY, provenance={"weights": "test run"})
    dst = save_fp16_copy(src, tmp_path / "m16.safetensors", {"quality": "none"})
    with safe_open(str(dst), framework="pt") as f:
        assert f.get_tensor("fusion.conv_output.weight").dtype == torch.float16
    model, info = load_model(dst)
    assert info.provenance == {"weights": "test run", "quality": "none", "stored_as": "float16"}
    ref = tiny_model().state_dict()
    for k, v in model.state_dict().items():
        assert v.dtype == ref[k].dtype and torch.allclose(v, ref[k], rtol=1e-3, atol=1e-4), k


@pytest.fixture()
def bundled_dir(tmp_path, monkeypatch):
    """Point the bundled-model lookup at an empty directory, with the tiny variant as the bundled one."""
    from trtmatte.checkpoints import bundled

    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(bundled, "BUNDLED", {TINY: "demo.safetensors"})
    monkeypatch.setattr(bundled, "DEFAULT_VARIANT", TINY)
    (tmp_path / "weights").mkdir()
    return tmp_path / "weights" / "demo.safetensors"


def test_matte_without_weights_names_the_missing_bundled_model(tmp_path, capsys, bundled_dir, photo):
    from PIL import Image

    from trtmatte.cli.main import main

    Image.fromarray(photo[::8, ::8]).save(tmp_path / "in.png")
    assert main(["matte", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.png")]) == 1
    err = capsys.readouterr().err
    assert "the bundled demo model demo.safetensors is missing" in err and err.count("\n") == 1


def test_matte_defaults_to_the_bundled_model_and_models_lists_it(tmp_path, capsys, bundled_dir, photo):
    from PIL import Image

    from trtmatte.checkpoints.native import save_checkpoint
    from trtmatte.cli.main import main

    save_checkpoint(tiny_model(), bundled_dir, TINY, dtype=torch.float16,
                    provenance={"weights": "trained by `trtmatte train` (test)", "data": {"kind": "synthetic"}})
    Image.fromarray(photo[::8, ::8]).save(tmp_path / "in.png")
    assert main(["matte", str(tmp_path / "in.png"), "-o", str(tmp_path / "a.png")]) == 0
    out = capsys.readouterr().out
    assert f"weights: {bundled_dir} ({TINY}; trained by `trtmatte train` (test))" in out
    assert Image.open(tmp_path / "a.png").size == (64, 64)
    assert main(["models", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[TINY]["bundled"]["present"] and rows[TINY]["bundled"]["provenance"]["data"] == {"kind": "synthetic"}
    assert main(["models"]) == 0
    assert f"bundled demo model ({TINY}, default of `trtmatte matte`)" in capsys.readouterr().out


def test_demo_variant_fits_the_25_mb_bundle():
    """late_fusion_lite is the bundled model: narrower decoders than the paper's so FP16 stays well under 25 MB."""
    from trtmatte.models import count_parameters

    model = registry.create_model("late_fusion_lite")
    assert count_parameters(model) == 10_289_529
    fp16_bytes = sum(t.numel() * 2 for t in model.state_dict().values() if t.is_floating_point())
    assert fp16_bytes < 22e6
    assert model.fg_decoder.deconv5.conv.out_channels == 512  # the paper's is the skip width, 1792
