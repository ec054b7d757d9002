"""A diffusion prior over layout-embedding sequences (the paper's Eq. 3).

A transformer predicts the noise added to the sequence of (frozen) slot embeddings of real
layouts. During detection its denoising error is added to the image loss, pulling the inverted
slots toward layouts that look like training layouts. ``slots`` selects which slots a prior
models: all of them (joint prior) or only the class / only the coordinate slots (the paper's
"decoupled priors" ablation, Table III).
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
                 depth: int = 4, heads: int = 4) -> None:
        super().__init__()
        self.slots = list(slots)
        self.inp = nn.Linear(slot_dim, width)
        self.pos = nn.Parameter(torch.randn(1, len(self.slots), width) * 0.02)
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_emb = TimestepEmbedding(256, width)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.out = nn.Linear(width, slot_dim)

    def forward(self, z_t: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
        h = self.inp(z_t) + self.pos + self.time_emb(self.time_proj(timestep).to(z_t.dtype))[:, None]
        return self.out(self.encoder(h))

    def loss(self, cond: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule) -> torch.Tensor:
        """Per-sample MSE of the predicted noise on this prior's slots of ``cond`` (B, L, D)."""
        x0 = cond[:, self.slots]
        eps = noise[:, self.slots]
        pred = self(schedule.add_noise(x0, eps, t), t)
        return (pred.float() - eps.float()).pow(2).flatten(1).mean(1)


class DecoupledPrior(nn.Module):
    """Independent priors over disjoint slot subsets; the loss is their sum."""

    def __init__(self, priors: dict[str, LayoutPrior]) -> None:
        super().__init__()
        self.priors = nn.ModuleDict(priors)

    def loss(self, cond, t, noise, schedule) -> torch.Tensor:
        return sum(p.loss(cond, t, noise, schedule) for p in self.priors.values())

    def save_pretrained(self, path: Path) -> None:
        for name, p in self.priors.items():
            p.save_pretrained(Path(path) / name)


def load_prior(path: Path) -> nn.Module:
    """``path/config.json``: a joint prior; otherwise each sub-folder is one decoupled prior."""
    path = Path(path)
    if (path / "config.json").exists():
        return LayoutPrior.from_pretrained(str(path), torch_dtype=torch.float32)
    subs = sorted(p for p in path.iterdir() if (p / "config.json").exists())
    return DecoupledPrior({p.name: LayoutPrior.from_pretrained(str(p), torch_dtype=torch.float32) for p in subs})
