"""Train the in-domain feature extractor: a small classifier on a reference dataset's train split.

Its penultimate layer gives the features for FD / KID / precision-recall and its logits the
in-domain Inception Score (see ``dive_bench.generative.extractors``). Every step draws its batch
and augmentation from a generator seeded by (seed, step), so a resumed run continues exactly.
The exported folder holds ``model.safetensors``, ``config.json`` and a model card with the data,
steps, test accuracy, seed and the exact command.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from dive_bench.spec.options import validate
from dive_bench.data import DATASETS
from dive_bench.errors import DiveBenchError
from dive_bench.generative.classifier_net import ClassifierConfig, SmallClassifier
from dive_bench.training.checkpointing import STATE_FILE, Session, begin, restore, save_state
from dive_bench.training.common import diverged
from dive_bench.training.configs import FeatureExtractorTrainConfig


_AUGMENT_TEXT = {"flip-shift": "random horizontal flip and shifts of up to 2 px", "flip": "random horizontal flip",
                 "none": "none"}


def _augment(x: torch.Tensor, g: torch.Generator, kind: str = "flip-shift") -> torch.Tensor:
    """Random horizontal flip and (``flip-shift``) a random shift of up to 2 px (zero padding)."""
    if kind == "none":
        return x
    flip = torch.rand(len(x), generator=g) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if kind == "flip":
        return x
    pad = F.pad(x, (2, 2, 2, 2))
    dx, dy = (int(v) for v in torch.randint(0, 5, (2,), generator=g))
    return pad[..., dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


@torch.no_grad()
def accuracy(model: SmallClassifier, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    model.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        correct += int((model(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum())
    return correct / len(images)


def train_feature_extractor(cfg: FeatureExtractorTrainConfig, out: Path, *, resume: bool = True,
                            resume_with_changes: bool = False) -> Path:
    """Train, evaluate on the test split and write ``out/model``. Returns that path. A rerun into
    ``out`` resumes, under other settings only with ``resume_with_changes`` (``checkpointing.begin``)."""
    validate(cfg)
    if len(cfg.widths) != 3 or not all(isinstance(w, int) and w >= 1 for w in cfg.widths):
        raise DiveBenchError(f"widths must be three positive integers (one per stage), e.g. 16,32,64; got {cfg.widths!r}")
    if cfg.dataset not in DATASETS:
        raise DiveBenchError(f"unknown dataset {cfg.dataset!r}; available: {', '.join(DATASETS.names())}")
    out = Path(out)
    session = begin(out, "feature-extractor", cfg, resume=resume, resume_with_changes=resume_with_changes)
    train = DATASETS.get(cfg.dataset)(split="train", root=cfg.data_root)
    test = DATASETS.get(cfg.dataset)(split="test", root=cfg.data_root)
    c, h, w = train.image_shape
    x_all = train.images.float() / 255.0
    mean, std = float(x_all.mean()), float(x_all.std())
    torch.manual_seed(cfg.seed)
    model = SmallClassifier(ClassifierConfig(in_channels=c, image_size=h, num_classes=train.num_classes,
                                             widths=tuple(cfg.widths), mean=round(mean, 4), std=round(std, 4)))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state_path = out / STATE_FILE
    start, losses = 0, []
    state = session.state
    if state is not None:
        restore(state_path, state, model=model, opt=opt)
        start, losses = int(state["step"]), list(state["losses"])
    session.record()
    t0 = time.time()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc=f"train feature-extractor {cfg.dataset}")
    for step in bar:
        model.train()
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        idx = torch.randint(len(x_all), (cfg.batch_size,), generator=g)
        x = _augment(x_all[idx], g, cfg.augment)
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup) * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(model(x), train.labels[idx], label_smoothing=0.05)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        diverged(losses[-1], step, cfg.lr, state_path)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{sum(losses[-100:]) / len(losses[-100:]):.3f}")
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.steps:
            save_state(state_path, {"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1,
                                    "losses": losses})
    elapsed = time.time() - t0
    model.eval()
    acc = accuracy(model, test.images, test.labels)
    return export_extractor(model, cfg, train, test, acc, out / "model", losses, elapsed, session=session)


def export_extractor(model: SmallClassifier, cfg: FeatureExtractorTrainConfig, train, test, test_accuracy: float,
                     dest: Path, losses: list[float], elapsed: float, session: Session | None = None) -> Path:
    """The model, dive_bench.json and a card ending in the command that rebuilds it, or, when
    ``session`` ran its steps under several settings, in that history."""
    import json

    model.save(dest)
    meta = {"kind": "feature-extractor", "dataset": cfg.dataset, "class_names": list(train.class_names),
            "test_accuracy": test_accuracy, "train_config": asdict(cfg)}
    mixed = session is not None and not session.rebuilt_by_one_command
    if mixed:
        meta["train_history"] = session.history
    (dest / "dive_bench.json").write_text(json.dumps(meta, indent=2) + "\n")
    n_params = sum(p.numel() for p in model.parameters())
    extra_flags = "" if cfg.augment == "flip-shift" else f" --augment {cfg.augment}"
    if tuple(cfg.widths) != ClassifierConfig.widths:
        extra_flags += f" --widths {','.join(map(str, cfg.widths))}"
    final = sum(losses[-100:]) / max(len(losses[-100:]), 1)
    (dest / "README.md").write_text(
        f"# In-domain feature extractor ({cfg.dataset})\n\n"
        f"- Purpose: features for FD / KID / precision-recall (penultimate layer, {model.feature_dim} dims, "
        f"after global average pooling) and logits for the in-domain Inception Score. Scores are reported as "
        f"`fd_{cfg.dataset}`, `is_{cfg.dataset}`, ... and are not comparable with Inception FID.\n"
        f"- Architecture: `dive_bench.generative.classifier_net.SmallClassifier`, widths {list(model.config.widths)}, "
        f"BatchNorm + ReLU, {n_params:,} parameters; input uint8 {model.config.in_channels}x{model.config.image_size}"
        f"x{model.config.image_size}, normalised with mean {model.config.mean} / std {model.config.std}.\n"
        f"- Data: {cfg.dataset} train split ({len(train)} images); augmentation: {_AUGMENT_TEXT[cfg.augment]}.\n"
        f"- Training: {cfg.steps} steps, batch {cfg.batch_size}, AdamW lr {cfg.lr} (warmup {cfg.warmup}, cosine decay), "
        f"weight decay {cfg.weight_decay}, label smoothing 0.05, seed {cfg.seed}.\n"
        f"- Test accuracy ({cfg.dataset} test split, {len(test)} images): {100 * test_accuracy:.2f}%.\n"
        f"- Final training loss (mean of last 100 steps): {final:.4f}. Wall time: {elapsed:.0f} s on CPU "
        f"({torch.get_num_threads()} thread(s)).\n"
        + (session.history_text(type(cfg), cfg.steps) if mixed else
           f"- Command: `dive-bench train feature-extractor --dataset {cfg.dataset} --steps {cfg.steps} "
           f"--batch-size {cfg.batch_size} --lr {cfg.lr} --seed {cfg.seed}{extra_flags} "
           f"--threads {torch.get_num_threads()} --out DIR`\n"))
    return dest
