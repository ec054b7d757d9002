"""A diffusion prior over layout-embedding sequences (the paper's Eq. 3).

A transformer predicts the noise added to the sequence of (frozen) slot embeddings of real
layouts. During detection its denoising error is added to the image loss, pulling the inverted
slots toward layouts that look like training layouts. ``slots`` selects which slots a prior
models: all of them (joint prior) or only the class / only the coordinate slots (the paper's
"decoupled priors" ablation, Table III).

``noised_fraction`` < 1 is our deviation from Eq. 3, measured on canvas-det-sized: each query
noises only a random subset of the slots (each slot with that probability, at least one) and
hands the model the rest clean; the error is taken on the noised slots. With every slot noised
(the paper's prior) the error barely depends on whether a box is one grid cell too wide, since
from a fully noised sequence the model cannot pin a coordinate to its neighbours
(``dive-bench prior-check``: 52-57% against chance 50%). With clean context the rules between
slots (a class's size, x1 > x0) decide the prediction of the noised slot, so breaking them costs.

``vocab_sizes`` (with ``slot_vocab``: which vocabulary each slot draws from) switches the output
from predicted noise to a predicted clean embedding that is a softmax mixture of the slot's
vocabulary entries (the frozen tables, stored as buffers), and the error from noise space to
embedding space. Why: a slot's clean value is one of 4 or 18 entries, so telling which is a
classification the network learns quickly, where regressing 32-dimensional noise hid that a
coordinate sits one grid value off (0.1-1% of the error). The error is the squared distance of
the mixture to the slot's embedding, a Brier score: lowest when the prior puts its mass on it.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin


class LayoutPrior(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, slots: tuple[int, ...] = tuple(range(15)), slot_dim: int = 32, width: int = 128,
                 depth: int = 4, heads: int = 4, noised_fraction: float = 1.0,
                 vocab_sizes: tuple[int, ...] | None = None, slot_vocab: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.slots = list(slots)
        self.noised_fraction = noised_fraction
        self.predicts_embedding = bool(vocab_sizes)
        if vocab_sizes:
            if slot_vocab is None or len(slot_vocab) != len(self.slots):
                raise ValueError("vocab_sizes needs slot_vocab: the vocabulary index of each of the prior's slots")
            self.slot_vocab = list(slot_vocab)
            self.vocab_heads = nn.ModuleList(nn.Linear(width, n) for n in vocab_sizes)
            for k, n in enumerate(vocab_sizes):
                self.register_buffer(f"vocab{k}", torch.zeros(n, slot_dim))
        self.inp = nn.Linear(slot_dim, width)
        self.pos = nn.Parameter(torch.randn(1, len(self.slots), width) * 0.02)
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_emb = TimestepEmbedding(256, width)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.out = nn.Linear(width, slot_dim)

    def forward(self, z_t: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        """``timestep``: (B,) shared by all slots, or (B, S) per slot (0 marks a clean slot)."""
        if timestep.ndim == 2:
            temb = self.time_emb(self.time_proj(timestep.flatten()).to(z_t.dtype)).view(*timestep.shape, -1)
        else:
            temb = self.time_emb(self.time_proj(timestep).to(z_t.dtype))[:, None]
        h = self.encoder(self.inp(z_t) + self.pos + temb)
        if not self.predicts_embedding:
            return self.out(h)
        x0 = z_t.new_zeros(z_t.shape)
        for k, head in enumerate(self.vocab_heads):
            own = [i for i, v in enumerate(self.slot_vocab) if v == k]
            x0[:, own] = head(h[:, own]).softmax(-1) @ getattr(self, f"vocab{k}").to(h.dtype)
        return x0

    def set_vocabularies(self, tables: list[torch.Tensor]) -> None:
        """Copy the layout model's frozen embedding tables in (vocabulary ``k`` = ``tables[k]``)."""
        for k, table in enumerate(tables):
            getattr(self, f"vocab{k}").copy_(table.detach())

    def draw_mask(self, batch: int, num_slots: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Which of all ``num_slots`` slots a query noises, (batch, num_slots) bool; None when all are."""
        if self.noised_fraction >= 1:
            return None
        mask = torch.rand(batch, num_slots, generator=generator) < self.noised_fraction
        own = torch.zeros(num_slots, dtype=torch.bool)
        own[self.slots] = True
        none_own = ~(mask & own).any(1)  # at least one of this prior's slots is noised
        pick = torch.tensor(self.slots)[torch.randint(len(self.slots), (batch,), generator=generator)]
        mask[none_own, pick[none_own]] = True
        return mask

    def loss(self, cond: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule,
             mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-sample MSE of the predicted noise on this prior's slots of ``cond`` (B, L, D); with a
        ``mask`` (B, L) only the masked slots are noised (at ``t``) and scored, the others are clean."""
        x0 = cond[:, self.slots]
        eps = noise[:, self.slots]
        target = x0 if self.predicts_embedding else eps
        if mask is None:
            pred = self(schedule.add_noise(x0, eps, t), t)
            return (pred.float() - target.float()).pow(2).flatten(1).mean(1)
        m = mask[:, self.slots].to(x0.device)
        x_t = torch.where(m[..., None], schedule.add_noise(x0, eps, t), x0)
        pred = self(x_t, torch.where(m, t[:, None], torch.zeros_like(t)[:, None]))
        err = (pred.float() - target.float()).pow(2).mean(-1) * m
        return err.sum(1) / m.sum(1).clamp(min=1)

    def clean_estimate(self, cond, t, noise, schedule, mask: torch.Tensor) -> torch.Tensor:
        """``cond`` (B, L, D) with each masked slot replaced by this prior's estimate of it."""
        return _clean_estimate(self, cond, t, noise, schedule, mask)


def _clean_estimate(prior: "LayoutPrior", cond, t, noise, schedule, mask) -> torch.Tensor:
    """``cond`` with the prior's estimate of each masked slot's clean embedding written in."""
    x0 = cond[:, prior.slots]
    eps = noise[:, prior.slots]
    m = mask[:, prior.slots].to(x0.device)
    x_t = torch.where(m[..., None], schedule.add_noise(x0, eps, t), x0)
    tt = torch.where(m, t[:, None], torch.zeros_like(t)[:, None])
    out = prior(x_t, tt)
    if not prior.predicts_embedding:  # from predicted noise back to the clean embedding
        a = schedule.alphas_cumprod.to(x0.device)[tt].to(x0.dtype)[..., None]
        out = (x_t - (1 - a).sqrt() * out) / a.sqrt()
    est = cond.clone()
    est[:, prior.slots] = torch.where(m[..., None], out.to(cond.dtype), x0)
    return est


class DecoupledPrior(nn.Module):
    """Independent priors over disjoint slot subsets; the loss is their sum."""

    def __init__(self, priors: dict[str, LayoutPrior]) -> None:
        super().__init__()
        self.priors = nn.ModuleDict(priors)

    def draw_mask(self, batch: int, num_slots: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        masks = [p.draw_mask(batch, num_slots, generator) for p in self.priors.values()]
        if all(m is None for m in masks):
            return None
        # each sub-prior reads its own slots of the union; a sub-prior without a mask noises all its slots
        out = torch.zeros(batch, num_slots, dtype=torch.bool)
        for p, m in zip(self.priors.values(), masks):
            out[:, p.slots] = m[:, p.slots] if m is not None else True
        return out

    def loss(self, cond, t, noise, schedule, mask: torch.Tensor | None = None) -> torch.Tensor:
        return sum(p.loss(cond, t, noise, schedule, mask) for p in self.priors.values())

    def clean_estimate(self, cond, t, noise, schedule, mask: torch.Tensor) -> torch.Tensor:
        for p in self.priors.values():  # disjoint slots: each writes its own
            cond = p.clean_estimate(cond, t, noise, schedule, mask)
        return cond

    def save_pretrained(self, path: Path) -> None:
        for name, p in self.priors.items():
            p.save_pretrained(Path(path) / name)


def load_prior(path: Path) -> nn.Module:
    """``path/config.json``: a joint prior; otherwise each sub-folder is one decoupled prior."""
    from dive_bench.models.checkpoint import load_pretrained

    path = Path(path)
    if (path / "config.json").exists():
        return load_pretrained(LayoutPrior, path, torch_dtype=torch.float32)
    subs = sorted(p for p in path.iterdir() if (p / "config.json").exists())
    return DecoupledPrior({p.name: load_pretrained(LayoutPrior, p, torch_dtype=torch.float32) for p in subs})
