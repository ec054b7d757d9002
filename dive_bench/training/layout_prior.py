"""Train the layout prior(s) on the frozen slot embeddings of a trained layout model.

The vocabularies are the layout model's own (frozen), so the prior learns the distribution of
exactly the sequences DIVE will produce. ``decoupled=True`` trains one prior over class slots
and one over coordinate slots (the paper's Table III ablation) into ``prior-decoupled/``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from dive_bench.spec.options import validate
from dive_bench.adapters.layout import PRIOR_FOLDERS, LayoutAdapter
from dive_bench.data.canvas import load_canvas
from dive_bench.errors import DiveBenchError
from dive_bench.models.layout_prior import DecoupledPrior, LayoutPrior
from dive_bench.labels import SLOTS_PER_OBJECT, LayoutTokenizer
from dive_bench.training.configs import PriorTrainConfig


def shuffled_objects(tokens: torch.Tensor, tok: LayoutTokenizer, generator: torch.Generator) -> torch.Tensor:
    """Each row's real objects in a random order, [none] objects last (as training layouts are
    built: objects shuffled, padding after). Vectorised: the per-image tokenizer loop was the
    bottleneck of prior training."""
    objs = tokens.view(len(tokens), tok.max_objects, SLOTS_PER_OBJECT)
    is_none = objs[..., 0] == tok.none_class
    keys = torch.rand(is_none.shape, generator=generator) + is_none.float() * 2  # padding sorts last
    order = keys.argsort(dim=1)
    return objs.gather(1, order[..., None].expand_as(objs)).reshape(len(tokens), -1)


def layout_model_folder(model_dir: Path) -> Path:
    """``model_dir`` checked to be a layout model's local folder (the prior is written into it).
    Anything else gets one line saying what it is and which folder to give: a loader error about
    "corrupt weights" sent users to retrain a model that was never there."""
    model_dir = Path(model_dir)
    fix = "give the layout model's folder (OUT/model of `dive-bench train layout`)"
    if not model_dir.exists():
        raise DiveBenchError(f"--out {model_dir} does not exist; {fix}")
    if not model_dir.is_dir():
        raise DiveBenchError(f"--out {model_dir} is a file; {fix}")
    if (model_dir / "config.json").is_file():
        return model_dir
    if (model_dir / "model" / "config.json").is_file():
        raise DiveBenchError(f"--out {model_dir} is a training folder; give its model, --out {model_dir / 'model'}")
    if (model_dir / "run.json").is_file():
        raise DiveBenchError(f"--out {model_dir} holds a scoring run, not a layout model; {fix}")
    raise DiveBenchError(f"--out {model_dir} holds no model (no config.json); {fix}")


def train_layout_prior(model_dir: Path, cfg: PriorTrainConfig) -> Path:
    """Train the prior of ``cfg`` into the layout model in ``model_dir`` (from scratch every time:
    there is no state to resume, so a rerun replaces the prior, and its card, consistently)."""
    validate(cfg)
    from dive_bench.util.environment import resolve_device

    device = resolve_device(cfg.device)  # a clear error, not a torch one, when CUDA is missing
    model_dir = layout_model_folder(model_dir)
    adapter = LayoutAdapter.from_pretrained(str(model_dir)).to(device)
    tok = adapter.tokenizer
    train = load_canvas(None, "train", cfg.train_images, seed=cfg.data_seed, max_objects=tok.max_objects, grid=tok.grid,
                        class_sizes=cfg.class_sizes)
    dim = adapter.vocabulary["class"].shape[1]
    torch.manual_seed(cfg.seed)
    kinds = tok.slot_kinds
    tables = [adapter.vocabulary["class"], adapter.vocabulary["coord"]]

    def make(slots: tuple[int, ...]) -> LayoutPrior:
        vocab = dict(vocab_sizes=tuple(len(v) for v in tables),
                     slot_vocab=tuple(0 if kinds[i] == "class" else 1 for i in slots)) if cfg.predict_embedding else {}
        p = LayoutPrior(slots, dim, cfg.width, cfg.depth, noised_fraction=cfg.noised_fraction, **vocab)
        if cfg.predict_embedding:
            p.set_vocabularies([v.cpu() for v in tables])
        return p

    if cfg.decoupled:
        prior = DecoupledPrior({kind: make(tuple(i for i, k in enumerate(kinds) if k == kind)) for kind in ("class", "coord")})
    else:
        prior = make(tuple(range(tok.num_slots)))
    prior.to(device)
    opt = torch.optim.AdamW(prior.parameters(), lr=cfg.lr)
    all_tokens = torch.stack([tok.encode(anns) for anns in train.annotations])  # tokenised once, shuffled per step
    t0 = time.time()
    losses = []
    for step in tqdm(range(cfg.steps), desc="train layout prior" + (" (decoupled)" if cfg.decoupled else "")):
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        idx = torch.randint(len(train.annotations), (cfg.batch_size,), generator=g)
        x0 = adapter.embed(shuffled_objects(all_tokens[idx], tok, g).to(device))
        t = torch.randint(0, 1000, (cfg.batch_size,), generator=g).to(device)
        noise = torch.randn(x0.shape, generator=g).to(device)
        mask = prior.draw_mask(cfg.batch_size, tok.num_slots, g)
        loss = prior.loss(x0, t, noise, adapter.schedule, None if mask is None else mask.to(device)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    dest = Path(model_dir) / (cfg.prior_set or "") / PRIOR_FOLDERS["decoupled" if cfg.decoupled else "joint"]
    prior.to("cpu").save_pretrained(dest)
    (dest.parent / f"{dest.name}.txt").write_text(
        f"layout prior ({'decoupled' if cfg.decoupled else 'joint'}): {sum(p.numel() for p in prior.parameters()):,} params, "
        f"{cfg.steps} steps, batch {cfg.batch_size}, lr {cfg.lr}, seed {cfg.seed}, noised fraction "
        f"{cfg.noised_fraction}{', predicts the clean embedding' if cfg.predict_embedding else ''}{f', class sizes {cfg.class_sizes}' if cfg.class_sizes else ''}, final loss "
        f"{sum(losses[-100:]) / len(losses[-100:]):.4f}, {time.time() - t0:.0f} s on {cfg.device}\n")
    return dest
