"""Train a small class-conditional model: a DiT (tied label table) or a UNet2DModel (the second
architecture family, ``architecture="unet"``), both with a CFG null row and EMA weights. One loop
serves both so the two families differ only in the network, not the recipe.

Every step draws its batch, timesteps and noise from a generator seeded by (seed, step), so a run
resumed from a checkpoint continues exactly where it stopped.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from tqdm.auto import tqdm

from dive_bench.spec.options import validate
from dive_bench.data import DATASETS
from dive_bench.data.base import to_model_range
from dive_bench.errors import DiveBenchError
from dive_bench.models.class_dit import PRESETS as DIT_PRESETS
from dive_bench.models.class_dit import build_class_dit, disable_internal_label_dropout, tie, untie
from dive_bench.models.class_unet import PRESETS as UNET_PRESETS
from dive_bench.models.class_unet import build_class_unet
from dive_bench.training.checkpointing import STATE_FILE, Session, begin, restore, save_state
from dive_bench.training.common import diverged, optimizer_step
from dive_bench.training.configs import ClassDiTTrainConfig


OBJECTIVES = {"eps": "ddpm-eps", "v": "ddpm-v", "x0": "ddpm-x0", "flow": "flow", "edm": "edm"}


def objective_parameterization(objective: str, sched):
    """The parameterization a ``--objective`` trains (its times, noising, inputs and target)."""
    from dive_bench.adapters.parameterization import NoiseSchedule
    from dive_bench.adapters.parameterization import from_name

    return from_name(OBJECTIVES[objective], NoiseSchedule(sched.alphas_cumprod.float()))


def _step_generator(seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def train_class_dit(cfg: ClassDiTTrainConfig, out: Path, *, resume: bool = True,
                    resume_with_changes: bool = False) -> Path:
    """Train and write ``out/model`` (EMA weights, diffusers format + model card). Returns that path.

    A rerun into the same ``out`` resumes; under other settings it is refused unless
    ``resume_with_changes`` (see ``checkpointing.begin``), so the card never names a command that
    does not rebuild the weights."""
    validate(cfg)
    presets = UNET_PRESETS if cfg.architecture == "unet" else DIT_PRESETS
    if cfg.preset not in presets:
        raise DiveBenchError(f"--preset {cfg.preset!r} is not a class-{cfg.architecture} preset; "
                             f"choose one of {', '.join(presets)}")
    if cfg.dataset not in DATASETS:
        raise DiveBenchError(f"unknown dataset {cfg.dataset!r}; available: {', '.join(DATASETS.names())}")
    out = Path(out)
    session = begin(out, f"class-{cfg.architecture}", cfg, resume=resume, resume_with_changes=resume_with_changes)
    data = DATASETS.get(cfg.dataset)(split="train", root=cfg.data_root)
    x_all = to_model_range(data.images)
    y_all = data.labels
    c, h, w = data.image_shape
    sampler = getattr(data, "sample_batch", None)
    torch.manual_seed(cfg.seed)  # the initial weights are part of what the seed fixes
    if cfg.architecture == "unet":
        model = build_class_unet(cfg.preset, num_classes=data.num_classes, sample_size=h, in_channels=c)
        ema = copy.deepcopy(model).eval().requires_grad_(False)
    else:
        model = build_class_dit(cfg.preset, num_classes=data.num_classes, sample_size=h, in_channels=c)
        disable_internal_label_dropout(model)
        ema = copy.deepcopy(model).eval().requires_grad_(False)
        tie(ema)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    param = objective_parameterization(cfg.objective, sched)
    null_class = data.num_classes

    state_path = out / STATE_FILE
    start, losses = 0, []
    state = session.state
    if state is not None:
        restore(state_path, state, model=model, ema=ema, opt=opt)
        start, losses = int(state["step"]), list(state["losses"])
    session.record()
    model.train()
    # wall time summed over resumed sessions (states written before it was kept start at 0)
    t0 = time.time() - float(state.get("elapsed", 0.0) if state is not None else 0.0)
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"train {cfg.dataset}-{cfg.preset}")
    for step in bar:
        g = _step_generator(cfg.seed, step)
        if sampler is not None:  # a dataset that composes fresh training images every step
            images, y = sampler(g, cfg.batch_size)
            x0 = to_model_range(images)
        else:
            idx = torch.randint(len(y_all), (cfg.batch_size,), generator=g)
            x0, y = x_all[idx], y_all[idx].clone()
        drop = torch.rand(cfg.batch_size, generator=g) < cfg.class_dropout
        y[drop] = null_class
        # eps: torch.randint(0, 1000) as before, so the bundled eps recipes are unchanged
        t = param.train_times(cfg.batch_size, g)
        noise = torch.randn(x0.shape, generator=g)
        x_in, t_in = param.model_inputs(param.add_noise(x0, noise, t), t)
        pred = model(x_in, t_in, class_labels=y).sample[:, :c]
        loss = F.mse_loss(pred, param.train_target(x0, noise, t))
        optimizer_step(model, ema, opt, loss, step=step, lr=cfg.lr, warmup=cfg.warmup, ema_decay=cfg.ema_decay)
        losses.append(loss.item())
        diverged(losses[-1], step, cfg.lr, state_path)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-200:]) / len(losses[-200:]):.4f}")
        if cfg.save_every and (step + 1) % cfg.save_every == 0:
            # before the state: a run killed in between recomputes this step, bit-identically
            keep_checkpoint(ema, sched, cfg, data, out, losses, time.time() - t0, step + 1, session)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_state(state_path, {"model": model.state_dict(), "ema": ema.state_dict(),
                                    "opt": opt.state_dict(), "step": step + 1, "losses": losses,
                                    "elapsed": time.time() - t0})
    elapsed = time.time() - t0
    return export_model(ema, sched, cfg, data, out / "model", losses, elapsed, step=cfg.steps, session=session)


def checkpoint_folder(out: Path, step: int) -> Path:
    """Where ``--save-every`` keeps the model of ``step`` (zero-padded: folders sort by step)."""
    return Path(out) / "checkpoints" / f"step-{step:06d}"


def keep_checkpoint(ema, sched, cfg: ClassDiTTrainConfig, data, out: Path, losses: list[float], elapsed: float,
                    step: int, session: Session | None = None) -> Path:
    """Export the EMA of ``step`` into a temporary folder, then rename it: a sweep never sees half
    a checkpoint, and a resumed run that reaches the step again replaces it with the same weights."""
    dest = checkpoint_folder(out, step)
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    export_model(ema, sched, cfg, data, tmp, losses, elapsed, step=step, session=session)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def export_model(ema, sched, cfg: ClassDiTTrainConfig, data, dest: Path, losses: list[float], elapsed: float,
                 step: int | None = None, session: Session | None = None) -> Path:
    """Write the EMA weights as a diffusers folder with dive_bench.json (``step``: the training
    step they are from, which ``dive-bench sweep`` orders checkpoints by) and a model card. When
    ``session`` says the steps ran under several settings, both list that history instead of
    naming one command."""
    step = cfg.steps if step is None else step
    dest.mkdir(parents=True, exist_ok=True)
    export = copy.deepcopy(ema)
    unet = cfg.architecture == "unet"
    if not unet:
        untie(export)
    (export.half() if cfg.save_dtype == "fp16" else export).save_pretrained(dest)
    sched.save_pretrained(dest)
    meta = {"adapter": cfg.architecture, "dataset": cfg.dataset, "class_names": list(data.class_names),
            "image_shape": list(data.image_shape), "train_config": asdict(cfg), "step": step}
    mixed = session is not None and not session.rebuilt_by_one_command
    if mixed:
        meta["train_history"] = session.history
    if unet:  # UNet2DModel has no null row of its own: the adapter needs to know which row it is
        meta["null_class_index"] = data.num_classes
    if cfg.objective != "eps":  # read by adapters/loading.py: else the model would be scored as eps
        meta["parameterization"] = objective_parameterization(cfg.objective, sched).describe()
    (dest / "dive_bench.json").write_text(json.dumps(meta, indent=2))
    n_params = sum(p.numel() for p in export.parameters())
    final = sum(losses[-200:]) / max(len(losses[-200:]), 1)
    if unet:
        arch = (f"diffusers `UNet2DModel`, {n_params:,} parameters, class table added to the timestep embedding "
                f"({data.num_classes} classes + CFG null row {data.num_classes})")
    else:
        arch = (f"diffusers `DiTTransformer2DModel`, {n_params:,} parameters, tied label table "
                f"({data.num_classes} classes + CFG null row)")
    (dest / "README.md").write_text(
        f"# Class-conditional {'UNet' if unet else 'DiT'} ({cfg.dataset}, preset {cfg.preset})\n\n"
        f"- Architecture: {arch}, "
        + ("eps-prediction, linear betas, 1000 steps" if cfg.objective == "eps" else
           f"objective {cfg.objective} ({OBJECTIVES[cfg.objective]}, declared in dive_bench.json)") + ".\n"
        f"- Data: {cfg.dataset} train split ("
        + ("fresh composites every step" if hasattr(data, "sample_batch") else f"{len(data)} images")
        + f", {'x'.join(map(str, data.image_shape))}).\n"
        + (f"- Checkpoint: the EMA weights at step {step} of {cfg.steps}.\n" if step != cfg.steps else "")
        + f"- Training{' (the latest session; history below)' if mixed else ''}: {cfg.steps} steps, batch {cfg.batch_size}, AdamW lr {cfg.lr} (warmup {cfg.warmup}), "
        f"class dropout {cfg.class_dropout}, EMA {cfg.ema_decay}, seed {cfg.seed}; weights are the EMA, "
        f"stored as {cfg.save_dtype}" + (" (diffusers loads them as float32)" if cfg.save_dtype == "fp16" else "")
        + ".\n"
        f"- Final training loss (mean of last 200 steps): {final:.4f}. Wall time: {elapsed:.0f} s on CPU.\n"
        + (session.history_text(type(cfg), step) if mixed else _command(cfg)))
    return dest


def _command(cfg: ClassDiTTrainConfig) -> str:
    """The card's line naming the one command that rebuilds the weights."""
    return (
        f"- Command: `dive-bench train class-{cfg.architecture} --dataset {cfg.dataset} --preset {cfg.preset} "
        f"--steps {cfg.steps} --batch-size {cfg.batch_size} --lr {cfg.lr} --seed {cfg.seed} "
        f"--threads {torch.get_num_threads()}" + (" --save-dtype fp16" if cfg.save_dtype == "fp16" else "")
        + (f" --save-every {cfg.save_every}" if cfg.save_every else "")
        + (f" --objective {cfg.objective}" if cfg.objective != "eps" else "")
        + " --out DIR`\n")
