"""The training loop: three stages, cyclic LR, checkpoints, resume, time budget, logs.

An output directory holds::

    checkpoints/step_0000500.safetensors   model (trtmatte checkpoint, FP32) every N steps
    checkpoints/step_0000500.state.pt      optimizer, stage, step counters, loss history (resume)
    model.safetensors                      final FP32 checkpoint with its training provenance
    model_fp16.safetensors                 the same in FP16 (what gets bundled)
    loss_curve.png                         loss per step, one colour a stage
    train_log.json                         options, data, per-stage summary, loss history

Adam is the optimizer (the paper does not name one; its learning rates are Adam-sized).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset

from .._version import __version__
from ..errors import TrtmatteError
from ..fileio import atomic_output
from ..models.preprocess import normalize
from ..models.registry import create_model, get_config
from . import late_fusion_training as default_family  # the default variant's: its LR and stage count
from .dataset import IndexStream, worker_threads
from .recipes import Recipe, cyclic_lr, loss_parameters, recipe_for

CHECKPOINT_DIR = "checkpoints"
KEEP_CHECKPOINTS = 3


@dataclass
class TrainOptions:
    variant: str = "late_fusion_lite"
    # per stage; None: the family's default (Late Fusion: 1500 400 700, the paper's 15/4/7 epochs in ratio)
    steps: tuple[int, ...] | None = None
    minutes: float | None = None  # wall-clock budget, shared by the stages in the paper's ratio
    batch: int = 8
    base_lr: float = default_family.BASE_LR
    half_cycle: int = 200  # steps from base to peak LR
    device: str = "cpu"
    amp: str = "auto"  # auto (bf16 on CUDA if supported, else fp16; off on CPU), bf16, fp16, off
    workers: int = 0
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 10
    imagenet: str | None = None  # torchvision DenseNet .pth for the encoder
    channels_last: bool | None = None  # default: on CUDA
    cudnn_benchmark: bool = True
    task_weights: str = "learned"  # AdaMatting: learned uncertainty weights, or the paper's fixed sigmas

    @property
    def recipe(self) -> Recipe:
        return recipe_for(get_config(self.variant).family)

    @property
    def stage_steps(self) -> tuple[int, ...]:
        return tuple(self.steps) if self.steps is not None else self.recipe.default_steps

    def check(self) -> None:
        recipe = self.recipe  # an unknown variant is named first
        steps = self.stage_steps
        if len(steps) != len(recipe.stages) or any(s < 0 for s in steps) or not any(steps):
            counts = f"{len(recipe.stages)} counts" if len(recipe.stages) > 1 else "one count"
            raise TrtmatteError(f"--steps needs {counts} >= 0 ({' '.join(recipe.stages)}) for {self.variant}, "
                                f"not all 0; got {list(steps)}")
        if self.imagenet and recipe.family != "late_fusion":
            raise TrtmatteError(f"--imagenet initialises Late Fusion's DenseNet encoder; {self.variant} has none")
        if self.task_weights not in ("learned", "fixed"):
            raise TrtmatteError(f"--task-weights must be learned or fixed, got {self.task_weights!r}")
        if self.batch < 1:
            raise TrtmatteError(f"--batch must be at least 1, got {self.batch}")
        if self.minutes is not None and not self.minutes > 0:
            raise TrtmatteError(f"--minutes must be > 0, got {self.minutes}")
        if not self.base_lr > 0:
            raise TrtmatteError(f"--lr must be > 0, got {self.base_lr}")
        if self.half_cycle < 1 or self.checkpoint_every < 1 or self.log_every < 1:
            raise TrtmatteError("--half-cycle, --checkpoint-every and --log-every must be at least 1")
        if self.workers < 0:
            raise TrtmatteError(f"--workers must be >= 0, got {self.workers}")
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise TrtmatteError(f"--amp must be auto, bf16, fp16 or off, got {self.amp!r}")


@dataclass
class TrainState:
    """Everything a resumed run needs besides the weights."""
    stage_index: int = 0
    stage_step: int = 0
    global_step: int = 0
    seconds: list[float] = field(default_factory=lambda: [0.0] * len(default_family.STAGES))
    steps_done: list[int] = field(default_factory=lambda: [0] * len(default_family.STAGES))
    history: list[dict] = field(default_factory=list)
    skipped: int = 0  # steps with a non-finite loss (not applied)


def resolve_device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrtmatteError(f"unknown --device {name!r}: use cpu or cuda (cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrtmatteError(f"--device {name} asked for, but this PyTorch sees no CUDA GPU "
                            f"(torch {torch.__version__}): use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise TrtmatteError(f"--device {name}: only cpu and cuda are supported")
    return device


def amp_dtype(options: TrainOptions, device: torch.device) -> torch.dtype | None:
    if options.amp == "off" or (options.amp == "auto" and device.type != "cuda"):
        return None
    if options.amp == "fp16" or (options.amp == "auto" and not torch.cuda.is_bf16_supported()):
        return torch.float16
    return torch.bfloat16


def stage_budgets(options: TrainOptions, state: TrainState) -> list[float]:
    """Seconds each stage may still run: what is left of the budget, shared by the stages still to
    run in the paper's ratio (Late Fusion: 15/4/7; a stage that finishes early leaves its time to the next)."""
    recipe = options.recipe
    if options.minutes is None:
        return [math.inf] * len(recipe.stages)
    left = options.minutes * 60 - sum(state.seconds)
    todo = [i for i, n in enumerate(options.stage_steps) if n and i >= state.stage_index]
    weights = {i: recipe.paper_epochs[recipe.stages[i]] for i in todo}
    total = sum(weights.values()) or 1
    return [max(0.0, left) * weights.get(i, 0) / total for i in range(len(recipe.stages))]


def _checkpoint_paths(ckpt: Path) -> tuple[Path, Path]:
    if ckpt.is_dir():  # an output directory, or its checkpoints/: the latest checkpoint in it
        found = sorted((ckpt / CHECKPOINT_DIR).glob("step_*.safetensors")) or sorted(ckpt.glob("step_*.safetensors"))
        if not found:
            raise TrtmatteError(f"--resume {ckpt}: no step_*.safetensors checkpoint in it (or in its {CHECKPOINT_DIR}/)")
        ckpt = found[-1]
    state = ckpt.with_name(ckpt.name.replace(".safetensors", ".state.pt"))
    if not ckpt.is_file():
        raise TrtmatteError(f"--resume {ckpt}: file not found")
    if not state.is_file():
        raise TrtmatteError(f"--resume {ckpt}: its training state {state.name} is missing beside it "
                            "(resume from a checkpoint that `trtmatte train` wrote)")
    return ckpt, state


class Trainer:
    def __init__(self, options: TrainOptions, dataset: Dataset, out_dir: str | Path,
                 data_description: dict | None = None, command: str = "",
                 on_log: Callable[[dict], None] | None = None, progress: bool = True):
        options.check()
        self.options = options
        self.dataset = dataset
        self.out = Path(out_dir)
        self.data_description = data_description or getattr(dataset, "description", {})
        self.command = command
        self.on_log = on_log
        self.progress = progress
        self.device = resolve_device(options.device)
        self.amp = amp_dtype(options, self.device)
        self.channels_last = self.device.type == "cuda" if options.channels_last is None else options.channels_last
        self.preprocessing = get_config(options.variant).preprocessing
        self.recipe, self.steps = options.recipe, options.stage_steps
        n = len(self.recipe.stages)
        self.state = TrainState(seconds=[0.0] * n, steps_done=[0] * n)
        self._optimizer_state: dict | None = None
        torch.manual_seed(options.seed)
        self.model = create_model(options.variant)
        self.loss_module = self.recipe.loss_module(options.task_weights)  # trainable loss parameters, or None
        if options.imagenet:
            from ..checkpoints.torchvision import load_imagenet_encoder

            load_imagenet_encoder(self.model.encoder, options.imagenet)
        self._to_device()

    def _to_device(self) -> None:
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model.to(self.device, memory_format=fmt)
        if self.loss_module is not None:
            self.loss_module.to(self.device)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = self.options.cudnn_benchmark
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

    # ---- resume / checkpoints -------------------------------------------------------------
    def resume(self, path: str | Path) -> Path:
        from ..checkpoints.native import load_model

        ckpt, state_path = _checkpoint_paths(Path(path))
        model, info = load_model(ckpt)
        if info.variant != self.options.variant:
            raise TrtmatteError(f"--resume {ckpt} holds variant {info.variant!r}, not {self.options.variant!r}: "
                                "pass the matching --variant")
        try:
            saved = torch.load(state_path, map_location="cpu", weights_only=True)
            self.state = TrainState(**saved["state"])
        except Exception as exc:  # any unreadable/incompatible file means the same to the user
            raise TrtmatteError(f"cannot read training state {state_path} ({type(exc).__name__}): "
                                "resume from another checkpoint") from None
        self.model.load_state_dict(model.state_dict())
        if self.loss_module is not None and saved.get("loss") is not None:
            self.loss_module.load_state_dict(saved["loss"])
        self._optimizer_state = saved.get("optimizer")
        self._to_device()
        return ckpt

    def _save_checkpoint(self, optimizer: torch.optim.Optimizer) -> Path:
        from ..checkpoints.native import save_checkpoint

        directory = self.out / CHECKPOINT_DIR
        directory.mkdir(parents=True, exist_ok=True)
        s = self.state
        path = directory / f"step_{s.global_step:07d}.safetensors"
        save_checkpoint(self.model, path, self.options.variant, provenance=self._provenance(final=False))
        with atomic_output(path.with_name(path.name.replace(".safetensors", ".state.pt"))) as tmp:
            torch.save({"state": asdict(s), "optimizer": optimizer.state_dict(),
                        "loss": None if self.loss_module is None else self.loss_module.state_dict(),
                        "options": json.loads(json.dumps(asdict(self.options)))}, tmp)
        for old in sorted(directory.glob("step_*.safetensors"))[:-KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)
            old.with_name(old.name.replace(".safetensors", ".state.pt")).unlink(missing_ok=True)
        return path

    def _provenance(self, final: bool) -> dict:
        s = self.state
        done = {name: {"steps": s.steps_done[i], "seconds": round(s.seconds[i], 1)}
                for i, name in enumerate(self.recipe.stages)}
        return {
            "weights": ("trained by `trtmatte train`" if final else "training checkpoint of `trtmatte train`")
                       + f" ({self.options.variant}, {s.global_step} steps of batch {self.options.batch})",
            "command": self.command,
            "data": self.data_description,
            "stages": done,
            "global_step": s.global_step,
            "options": json.loads(json.dumps(asdict(self.options))),
            "device": self._device_name(),
            "trtmatte_version": __version__,
        }

    def _device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return "cpu"

    # ---- the loop -------------------------------------------------------------------------
    def _loader(self) -> DataLoader:
        o = self.options
        kwargs = dict(batch_size=o.batch, sampler=IndexStream(self.state.global_step * o.batch),
                      num_workers=o.workers, pin_memory=self.device.type == "cuda", drop_last=True)
        if o.workers:
            kwargs.update(worker_init_fn=worker_threads, prefetch_factor=4)
        return DataLoader(self.dataset, **kwargs)

    def _batch(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        image = batch["image"].to(self.device, non_blocking=True).float()
        image = normalize(image, self.preprocessing).contiguous(memory_format=fmt)
        alpha = batch["alpha"].to(self.device, non_blocking=True)
        return image, alpha

    def fit(self) -> dict:
        o, s = self.options, self.state
        self.out.mkdir(parents=True, exist_ok=True)
        batches = iter(self._loader())
        optimizer = None
        for index, name in enumerate(self.recipe.stages):
            if index < s.stage_index:
                continue
            if index > s.stage_index:
                s.stage_index, s.stage_step = index, 0
            budget = stage_budgets(o, s)[index]
            if self.steps[index] == 0:
                continue
            optimizer = self._run_stage(index, name, budget, batches)
        # every stage done (or out of time): mark the run finished, so a resume does nothing
        s.stage_index, s.stage_step = len(self.recipe.stages), 0
        return self._finish(optimizer)

    def _run_stage(self, index: int, name: str, budget: float, batches) -> torch.optim.Optimizer:
        o, s = self.options, self.state
        params = self.recipe.configure(self.model, name) + loss_parameters(self.loss_module)
        base, peak = self.recipe.stage_lrs(name, o.base_lr)
        optimizer = torch.optim.Adam(params, lr=base)
        if self._optimizer_state is not None:  # resumed inside this stage
            optimizer.load_state_dict(self._optimizer_state)
            self._optimizer_state = None
        scaler = torch.amp.GradScaler("cuda") if self.amp == torch.float16 else None
        bar = self._bar(name, self.steps[index], s.stage_step)
        start = time.perf_counter()
        seconds_before = s.seconds[index]
        running: dict[str, float] = {}
        samples = stepped = 0
        last_log = start
        try:
            while s.stage_step < self.steps[index]:
                # Out of time: stop, but only after one step, so every stage with steps takes part
                # even when an earlier one overran the budget (a step is well under a second on a GPU).
                if time.perf_counter() - start >= budget and stepped:
                    break
                image, alpha = self._batch(next(batches))
                lr = cyclic_lr(s.stage_step, base, peak, o.half_cycle)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
                    loss = self.recipe.stage_loss(self.model, name, image, alpha, self.loss_module, s.global_step,
                                                  o.seed)
                optimizer.zero_grad(set_to_none=True)
                if not torch.isfinite(loss.total.detach()):  # one sync a step; a NaN step would ruin Adam's state
                    s.skipped += 1
                    if s.skipped > 10:
                        raise TrtmatteError(f"the loss is not finite in stage {name} at step {s.global_step} "
                                            f"({s.skipped} times): training diverged; lower --lr or use --amp off")
                    continue
                if scaler is not None:
                    scaler.scale(loss.total).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.total.backward()
                    optimizer.step()
                s.stage_step += 1
                s.global_step += 1
                samples += image.shape[0]
                stepped += 1
                s.steps_done[index] = s.stage_step
                s.seconds[index] = seconds_before + time.perf_counter() - start
                if s.stage_step % o.log_every == 0 or s.stage_step == 1:
                    total = float(loss.total.detach())
                    now = time.perf_counter()
                    row = {"step": s.global_step, "stage": name, "stage_step": s.stage_step, "lr": lr, "loss": total,
                           **{k: float(v.detach()) for k, v in loss.parts.items()},
                           "seconds": round(s.seconds[index], 2),
                           "samples_per_s": round(samples / max(now - last_log, 1e-9), 2)}
                    samples, last_log = 0, now
                    s.history.append(row)
                    running = {k: row[k] for k in ("loss", *loss.parts)}
                    if self.on_log:
                        self.on_log(row)
                if bar is not None:
                    bar.update(1)
                    if running and s.stage_step % o.log_every == 0:
                        bar.set_postfix({k: f"{v:.4f}" for k, v in running.items()}, refresh=False)
                if s.global_step % o.checkpoint_every == 0:
                    self._save_checkpoint(optimizer)
        finally:
            if bar is not None:
                bar.close()
        return optimizer

    def _bar(self, name: str, total: int, initial: int):
        if not self.progress:
            return None
        import sys

        from tqdm import tqdm

        # Not a terminal (a log file, the GPU job's output): a line every 30 s, not a redraw per step.
        return tqdm(total=total if total < 10**8 else None, initial=initial, desc=name, unit="step",
                    mininterval=0.5 if sys.stderr.isatty() else 30.0, dynamic_ncols=True)

    # ---- outputs ----------------------------------------------------------------------------
    def _finish(self, optimizer) -> dict:
        from ..checkpoints.native import save_checkpoint
        from .curve import plot_loss_curve

        o, s = self.options, self.state
        if optimizer is not None and s.global_step % o.checkpoint_every:
            self._save_checkpoint(optimizer)
        provenance = self._provenance(final=True)
        model_path = save_checkpoint(self.model, self.out / "model.safetensors", o.variant, provenance=provenance)
        fp16_path = save_checkpoint(self.model, self.out / "model_fp16.safetensors", o.variant,
                                    dtype=torch.float16, provenance={**provenance, "stored_as": "float16"})
        curve = plot_loss_curve(s.history, self.out / "loss_curve.png", title=f"trtmatte train {o.variant}")
        log = {
            "trtmatte_version": __version__,
            "command": self.command,
            "variant": o.variant,
            "options": json.loads(json.dumps(asdict(o))),
            "data": self.data_description,
            "device": self._device_name(),
            "amp": str(self.amp).replace("torch.", "") if self.amp else "off",
            "stages": {name: {"steps": s.steps_done[i], "seconds": round(s.seconds[i], 1),
                              "last": next((r for r in reversed(s.history) if r["stage"] == name), None)}
                       for i, name in enumerate(self.recipe.stages)},
            "global_step": s.global_step,
            "skipped_nonfinite": s.skipped,
            "outputs": {"model": model_path.name, "model_fp16": fp16_path.name,
                        "model_fp16_bytes": fp16_path.stat().st_size, "loss_curve": curve.name if curve else None},
            "history": s.history,
        }
        with atomic_output(self.out / "train_log.json") as tmp:
            tmp.write_text(json.dumps(log, indent=1) + "\n")
        return log


def train(options: TrainOptions, dataset: Dataset, out_dir: str | Path, resume: str | Path | None = None,
          **kwargs) -> dict:
    """Run (or resume) the three stages and write the outputs; returns the JSON log as a dict."""
    trainer = Trainer(options, dataset, out_dir, **kwargs)
    if resume:
        trainer.resume(resume)
    return trainer.fit()


__all__ = ["TrainOptions", "TrainState", "Trainer", "train"]
