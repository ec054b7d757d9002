"""Train the layout-to-image model on the canvas detection set.

Recipe (measured on 32x32 canvases: with it the position check reached 0.95 after ~430 CPU steps
and 1.00 from step 900): eps-prediction with the loss weighted toward x0 space,
w(t) = min((1 - a_t) / a_t, 20), and timesteps drawn mostly from [500, 1000), where the layout
decides the image; classifier-free dropout of single objects and of the whole layout
(p = 0.1 each). The position-sensitivity check runs every ``check_every`` steps and is recorded
in the model card, so a checkpoint that ignores box positions is visible before anyone inverts it.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict
from pathlib import Path

import torch
from diffusers import DDPMScheduler
from tqdm.auto import tqdm

from dive_bench.spec.options import validate
from dive_bench.adapters.base import vae_encode, vae_scaling_factor
from dive_bench.data.base import to_model_range
from dive_bench.data.canvas import load_canvas
from dive_bench.models.layout_dit import LayoutDiT
from dive_bench.labels import SLOTS_PER_OBJECT, LayoutTokenizer
from dive_bench.training.checkpointing import STATE_FILE, Session, begin, restore, save_state
from dive_bench.training.common import diverged, optimizer_step
from dive_bench.training.configs import LayoutTrainConfig


def layout_batch_tokens(tokenizer: LayoutTokenizer, annotations: list[list[dict]], generator: torch.Generator,
                        object_dropout: float, layout_dropout: float) -> torch.Tensor:
    """Shuffled token sequences with single objects and whole layouts dropped to [none]."""
    rows = []
    empty = tokenizer.empty()
    for anns in annotations:
        tokens = tokenizer.encode(anns, generator=generator)
        if torch.rand((), generator=generator) < layout_dropout:
            tokens = empty.clone()
        else:
            for k in range(tokenizer.max_objects):
                if torch.rand((), generator=generator) < object_dropout:
                    sl = slice(SLOTS_PER_OBJECT * k, SLOTS_PER_OBJECT * (k + 1))
                    tokens[sl] = empty[sl]
        rows.append(tokens)
    return torch.stack(rows)


def train_layout(cfg: LayoutTrainConfig, out: Path, *, resume: bool = True, resume_with_changes: bool = False) -> Path:
    """Train and write ``out/model``; a rerun into ``out`` resumes, under other settings only with
    ``resume_with_changes`` (see ``checkpointing.begin``)."""
    validate(cfg)
    from dive_bench.diagnostics.position_check import position_sensitivity

    out = Path(out)
    session = begin(out, "layout", cfg, resume=resume, resume_with_changes=resume_with_changes)
    train = load_canvas(None, "train", cfg.train_images, seed=cfg.data_seed, max_objects=cfg.max_objects, grid=cfg.grid)
    val = load_canvas(None, "val", cfg.val_images, seed=cfg.data_seed, max_objects=cfg.max_objects, grid=cfg.grid)
    tok = LayoutTokenizer(tuple(c["id"] for c in train.categories), cfg.grid, cfg.max_objects, train.images.shape[-1])
    vae = load_vae(cfg.vae) if cfg.vae else None
    x_all = to_model_range(train.images)
    if vae is not None:  # encoded once, as the adapter encodes at inversion time
        x_all = vae_encode(vae, x_all, vae_scaling_factor(vae), batch=64)
    torch.manual_seed(cfg.seed)
    model = LayoutDiT(num_classes=tok.num_classes, grid=cfg.grid, max_objects=cfg.max_objects,
                      image_size=x_all.shape[-1], in_channels=x_all.shape[1], patch=cfg.patch,
                      width=cfg.width, depth=cfg.depth)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
    ac = sched.alphas_cumprod
    state_path = out / STATE_FILE
    start, losses, checks, elapsed = 0, [], [], 0.0
    state = session.state
    if state is not None:
        restore(state_path, state, model=model, ema=ema, opt=opt)
        start, losses, checks = int(state["step"]), list(state["losses"]), list(state["checks"])
        elapsed = float(state.get("elapsed", 0.0))
    session.record()
    model.train()
    t0 = time.time() - elapsed
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="train layout")
    for step in bar:
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        idx = torch.randint(len(x_all), (cfg.batch_size,), generator=g)
        tokens = layout_batch_tokens(tok, [train.annotations[i] for i in idx.tolist()], g,
                                     cfg.object_dropout, cfg.layout_dropout)
        high = torch.rand(cfg.batch_size, generator=g) < cfg.high_noise_fraction
        t = torch.where(high, torch.randint(500, 1000, (cfg.batch_size,), generator=g),
                        torch.randint(0, 1000, (cfg.batch_size,), generator=g))
        noise = torch.randn(x_all[idx].shape, generator=g)
        x_t = sched.add_noise(x_all[idx], noise, t)
        pred = model(x_t, t, model.embed_tokens(tokens))
        w = ((1 - ac[t]) / ac[t]).clamp(max=cfg.max_weight)
        loss = (w * (pred - noise).pow(2).flatten(1).mean(1)).mean() / w.mean()
        optimizer_step(model, ema, opt, loss, step=step, lr=cfg.lr, warmup=cfg.warmup, ema_decay=cfg.ema_decay)
        losses.append(loss.item())
        diverged(losses[-1], step, cfg.lr, state_path)
        if step % 25 == 0:
            bar.set_postfix(loss=f"{sum(losses[-100:]) / len(losses[-100:]):.4f}")
        if (step + 1) % cfg.check_every == 0 or step + 1 == cfg.steps:
            rates = position_sensitivity(_adapter(ema, tok, vae), val, tok, num_images=cfg.check_images)
            checks.append({"step": step + 1, **rates})
            bar.write(f"step {step + 1}: position check {rates}")
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_state(state_path, {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                                    "step": step + 1, "losses": losses, "checks": checks, "elapsed": time.time() - t0})
    return export_layout(ema, sched, cfg, tok, train, out / "model", losses, checks, time.time() - t0, vae=vae,
                         session=session)


def load_vae(source: str):
    """The AutoencoderKL to train in the latent space of (float32, frozen)."""
    from diffusers import AutoencoderKL

    from dive_bench.adapters.loading import load_component

    return load_component(AutoencoderKL, source, torch_dtype=torch.float32).eval().requires_grad_(False)


def _adapter(model: LayoutDiT, tok: LayoutTokenizer, vae=None):
    from dive_bench.adapters.layout import LayoutAdapter

    return LayoutAdapter(copy.deepcopy(model), tok, vae=vae)


def export_layout(ema: LayoutDiT, sched, cfg: LayoutTrainConfig, tok: LayoutTokenizer, train, dest: Path,
                  losses: list[float], checks: list[dict], elapsed: float, vae=None,
                  session: Session | None = None) -> Path:
    """The EMA model, dive_bench.json and a card whose last line is the command that rebuilds it,
    or, when ``session`` ran its steps under several settings, that history."""
    dest.mkdir(parents=True, exist_ok=True)
    if vae is not None:  # the checkpoint carries its VAE, so inversion needs nothing else
        vae.save_pretrained(dest / "vae")
    if cfg.save_dtype not in ("fp32", "fp16"):
        raise ValueError(f"save_dtype must be fp32 or fp16, not {cfg.save_dtype!r}")
    (copy.deepcopy(ema).half() if cfg.save_dtype == "fp16" else ema).save_pretrained(dest)
    sched.save_pretrained(dest)
    meta = {"adapter": "layout", "dataset": "canvas", "category_ids": list(tok.category_ids),
            "class_names": [c["name"] for c in train.categories], "grid": tok.grid, "max_objects": tok.max_objects,
            "image_size": tok.image_size, "train_config": asdict(cfg), "position_checks": checks}
    mixed = session is not None and not session.rebuilt_by_one_command
    if mixed:
        meta["train_history"] = session.history
    (dest / "dive_bench.json").write_text(json.dumps(meta, indent=2))
    n_params = sum(p.numel() for p in ema.parameters())
    final = sum(losses[-100:]) / max(len(losses[-100:]), 1)
    last = checks[-1] if checks else {}
    # the card's command must rebuild this model: a non-default width is part of it
    width_flag = "" if cfg.width == LayoutTrainConfig.width else f" --width {cfg.width}"
    if cfg.lr != LayoutTrainConfig.lr:  # so is a non-default learning rate
        width_flag += f" --lr {cfg.lr}"
    (dest / "README.md").write_text(
        f"# Layout-to-image model (canvas detection set)\n\n"
        f"- Architecture: `LayoutDiT` (dive_bench/models/layout_dit.py), {n_params:,} parameters: transformer over "
        f"{cfg.patch}x{cfg.patch} patches, cross-attention with Fourier positions on queries (patch centre) and keys (object box).\n"
        f"- Layout: up to {tok.max_objects} objects x (class, x0, y0, x1, y1), coordinates on a {tok.grid}-value grid.\n"
        + (f"- Latent space of the AutoencoderKL `{cfg.vae}` (in `vae/`): {ema.config.in_channels}x{ema.config.image_size}"
           f"x{ema.config.image_size} latents of {tok.image_size}x{tok.image_size} images, patch {cfg.patch}.\n"
           if vae is not None else "") +
        f"- Data: canvas train split, {cfg.train_images} images (seed {cfg.data_seed}).\n"
        f"- Training: {cfg.steps} steps, batch {cfg.batch_size}, AdamW lr {cfg.lr}, x0-weighted eps loss (max weight "
        f"{cfg.max_weight}), {cfg.high_noise_fraction:.0%} of timesteps in [500, 1000), object/layout dropout "
        f"{cfg.object_dropout}/{cfg.layout_dropout}, EMA {cfg.ema_decay}, seed {cfg.seed}; weights are the EMA, stored as {cfg.save_dtype}.\n"
        f"- Final weighted loss (mean of last 100 steps): {final:.4f}. Wall time {elapsed:.0f} s on CPU.\n"
        f"- Position-sensitivity check at the end (true layout beats the perturbed one, {cfg.check_images} val images): "
        f"{json.dumps({k: v for k, v in last.items() if k != 'step'})}\n"
        + (session.history_text(type(cfg), cfg.steps) if mixed else
           f"- Command: `dive-bench train layout --steps {cfg.steps} --batch-size {cfg.batch_size} --seed {cfg.seed} "
           f"--save-dtype {cfg.save_dtype}{width_flag}{'' if vae is None else f' --vae {cfg.vae} --patch {cfg.patch}'}"
           " --out DIR`\n"))
    return dest
