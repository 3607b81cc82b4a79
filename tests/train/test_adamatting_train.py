"""AdaMatting training: the trimap-adaptation and alpha losses, the uncertainty weighting (learned
and the paper's fixed sigmas), trimaps from ground truth, and a tiny CPU run whose loss falls,
through the library and `trtmatte train --variant`. A tiny AdaMatting is registered for this module
only, so the file takes seconds."""
from __future__ import annotations

import json
import math

import pytest
import torch

from trtmatte.models import adamatting, registry
from trtmatte.train import adamatting_training as L
from trtmatte.train.dataset import AugmentOptions, SyntheticDataset
from trtmatte.train.trainer import TrainOptions, train

pytest.importorskip("skimage", reason="scikit-image is needed for its bundled photos (synthetic data)")

TINY = "test_adamatting_tiny"


@pytest.fixture(scope="module", autouse=True)
def tiny_variant():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    registry.register(registry.ModelConfig(
        name=TINY, family="adamatting", description="tests only", preprocessing=adamatting.PREPROCESSING,
        inputs=("image", "trimap"),
        arch={"stem_width": 8, "stem_kernel": 3, "stages": ((4, 8, 1), (4, 8, 1), (8, 16, 1), (8, 16, 1)),
              "decoder_widths": (16, 16, 8, 8, 8), "propagation_width": 4}))
    yield
    del registry._REGISTRY[TINY]
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    return SyntheticDataset(AugmentOptions(crop=64, seed=0), fg_count=4)


def test_trimap_classes_and_cross_entropy():
    alpha = torch.tensor([0.0, 0.3, 1.0, 1.0]).view(1, 1, 1, 4)
    assert L.trimap_classes(alpha).tolist() == [[[0, 1, 2, 2]]]
    logits = torch.zeros(1, 3, 1, 4)
    assert L.trimap_loss(logits, alpha).item() == pytest.approx(math.log(3))  # uniform over three classes


def test_alpha_loss_counts_only_the_unknown_region():
    pred = torch.tensor([0.5, 0.5, 0.5, 0.5]).view(1, 1, 1, 4)
    alpha = torch.tensor([0.0, 0.3, 1.0, 0.9]).view(1, 1, 1, 4)
    trimap = torch.tensor([0.0, 128.0, 255.0, 128.0]).view(1, 1, 4)
    assert L.alpha_loss(pred, alpha, trimap).item() == pytest.approx((0.2 + 0.4) / 2)


def test_task_weights_learned_and_fixed():
    learned = L.TaskWeights("learned")
    lt, la = torch.tensor(0.8), torch.tensor(0.2)
    assert learned(lt, la).item() == pytest.approx(0.5 * (0.8 + 0.2))  # sigma = 1 at the start
    learned(lt, la).backward()
    # d/ds of (exp(-s) L + s) / 2 at s = 0 is (1 - L) / 2: the weights move towards sigma^2 = L
    assert learned.log_var.grad.tolist() == pytest.approx([0.1, 0.4])
    fixed = L.TaskWeights("fixed")
    assert not list(fixed.parameters()) and fixed.sigmas.tolist() == pytest.approx(list(L.PAPER_SIGMAS))
    s1, s2 = L.PAPER_SIGMAS
    want = lt / (2 * s1**2) + la / (2 * s2**2) + math.log(s1) + math.log(s2)
    assert fixed(lt, la).item() == pytest.approx(want.item(), rel=1e-5)
    with pytest.raises(ValueError, match="task weights"):
        L.TaskWeights("other")


def test_training_trimaps_from_ground_truth():
    alpha = torch.zeros(2, 1, 32, 32)
    alpha[:, :, 8:24, 8:24] = 1.0
    alpha[:, :, 15, 8:24] = 0.5
    t = L.training_trimap(alpha, [2, 5])
    assert t.shape == (2, 32, 32) and set(t.unique().tolist()) == {0.0, 128.0, 255.0}
    assert (t[:, 15, 10:22] == 128).all()  # the transition is unknown
    assert (t[1] == 128).sum() > (t[0] == 128).sum()  # a wider band
    b = L.bands(320, 8, step=7)
    assert b == L.bands(320, 8, step=7) and all(5 <= x <= 20 for x in b)


def test_tiny_run_loss_falls_and_logs_the_sigmas(tmp_path, data):
    log = train(TrainOptions(variant=TINY, steps=(40,), batch=4, log_every=1, base_lr=3e-3), data, tmp_path,
                progress=False)
    losses = [row["loss"] for row in log["history"]]
    assert len(losses) == 40 and all(math.isfinite(x) for x in losses)
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5, losses
    last = log["history"][-1]
    assert {"L_T", "L_alpha", "sigma_T", "sigma_alpha"} <= set(last) and last["stage"] == "multitask"
    assert last["sigma_T"] != 1.0 and last["sigma_alpha"] != 1.0  # the weights were learned
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "loss_curve.png").is_file()


def test_resume_restores_the_task_weights(tmp_path, data):
    options = TrainOptions(variant=TINY, steps=(6,), batch=2, log_every=1, checkpoint_every=3, base_lr=3e-3)
    first = train(options, data, tmp_path / "first", progress=False)
    ckpt = tmp_path / "first" / "checkpoints" / "step_0000003.safetensors"
    state = torch.load(ckpt.with_name("step_0000003.state.pt"), weights_only=True)
    assert state["loss"]["log_var"].abs().sum() > 0
    resumed = train(options, data, tmp_path / "second", resume=ckpt, progress=False)
    assert resumed["global_step"] == first["global_step"] == 6
    # steps 4..6 continue from the saved task weights (a fresh start would log sigma = 1 at step 4)
    for a, b in zip(first["history"][3:], resumed["history"][3:]):
        assert a["step"] == b["step"] and a["sigma_T"] == pytest.approx(b["sigma_T"], rel=1e-4)


def test_cli_trains_adamatting_with_fixed_weights(tmp_path, capsys):
    from trtmatte.cli.main import main

    out = tmp_path / "run"
    assert main(["train", "--variant", TINY, "--synthetic", "--synthetic-count", "2", "--crop", "64", "--batch", "2",
                 "--steps", "3", "--task-weights", "fixed", "--log-every", "1", "--no-progress", "-o", str(out)]) == 0
    log = json.loads((out / "train_log.json").read_text())
    assert log["global_step"] == 3 and log["options"]["task_weights"] == "fixed"
    assert log["history"][-1]["sigma_T"] == pytest.approx(L.PAPER_SIGMAS[0], rel=1e-5)
    capsys.readouterr()
    assert main(["train", "--variant", TINY, "--synthetic", "--steps", "3", "3", "-o", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "--steps needs one count >= 0 (multitask)" in err and err.count("\n") == 1
