"""A small layout-to-image denoiser whose cross-attention can compare positions directly.

Why not ``UNet2DConditionModel`` (the first plan): a small diffusers UNet with CoordConv and
query-only position embeddings stayed at chance on shifted boxes after 1,300 CPU steps on the
canvas set. What made a small model position-sensitive quickly was putting the *same kind*
of embedding on both sides of the cross-attention: image patches (queries) get Fourier features
of their centre, objects (keys) get Fourier features of their box, so the bilinear attention
score can compare them (LayoutDiffusion's object-aware cross-attention). Coordinate tokens are
those same Fourier features (a frozen table), object tokens are GLIGEN-style: an MLP of
[class embedding | 4 coordinate embeddings].

The condition is the sequence of slot embeddings (B, L, D), 5 slots per object; the model
never sees token ids, so DIVE can feed it learnable (snapped) embeddings.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin


def fourier_features(u: torch.Tensor, dim: int, max_freq: float) -> torch.Tensor:
    """u in [0, 1] -> (..., dim) sin/cos features at log-spaced frequencies up to ``max_freq``."""
    n = dim // 2
    freqs = math.pi * torch.logspace(0, math.log10(max_freq), n, device=u.device, dtype=torch.float32)
    ang = u.float()[..., None] * freqs
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class _Block(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm_x = nn.LayerNorm(width, eps=1e-6)
        self.cross = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"), nn.Linear(4 * width, width))
        self.ada = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def forward(self, x, c, qpos, keys, values):
        s1, sc1, g1, s2, sc2, g2 = self.ada(F.silu(c)).chunk(6, dim=-1)
        h = _modulate(self.norm1(x), s1, sc1)
        x = x + g1[:, None] * self.attn(h, h, h, need_weights=False)[0]
        x = x + self.cross(self.norm_x(x) + qpos, keys, values, need_weights=False)[0]
        h = _modulate(self.norm2(x), s2, sc2)
        return x + g2[:, None] * self.mlp(h)


class LayoutDiT(ModelMixin, ConfigMixin):
    """eps-prediction denoiser for ``image_size`` RGB images conditioned on layout slot embeddings."""

    @register_to_config
    def __init__(self, num_classes: int = 3, grid: int = 17, max_objects: int = 3, image_size: int = 32,
                 in_channels: int = 3, patch: int = 4, width: int = 128, depth: int = 6, heads: int = 4,
                 slot_dim: int = 32) -> None:
        super().__init__()
        self.tokens_per_side = image_size // patch
        n_tok = self.tokens_per_side ** 2
        patch_dim = in_channels * patch * patch
        self.class_table = nn.Embedding(num_classes + 1, slot_dim)  # last row: [none]
        nn.init.normal_(self.class_table.weight, std=0.5)
        values = torch.arange(grid, dtype=torch.float32) / (grid - 1)
        self.register_buffer("coord_fourier", fourier_features(values, slot_dim, grid / 2), persistent=True)
        self.coord_none = nn.Parameter(torch.randn(slot_dim) * 0.5)
        self.patch_in = nn.Linear(patch_dim, width)
        self.pos = nn.Parameter(torch.randn(1, n_tok, width) * 0.02)
        self.time_proj = Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_emb = TimestepEmbedding(256, width)
        self.object_mlp = nn.Sequential(nn.Linear(5 * slot_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.key_pos = nn.Linear(4 * slot_dim, width)
        self.query_pos = nn.Linear(4 * slot_dim, width)
        self.null_token = nn.Parameter(torch.zeros(1, 1, width))
        self.layout_to_c = nn.Linear(width, width)
        self.blocks = nn.ModuleList(_Block(width, heads) for _ in range(depth))
        self.norm_out = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Linear(width, 2 * width)
        self.patch_out = nn.Linear(width, patch_dim)
        for m in (self.ada_out, self.patch_out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        centres = (torch.arange(self.tokens_per_side, dtype=torch.float32) + 0.5) / self.tokens_per_side
        cy, cx = torch.meshgrid(centres, centres, indexing="ij")
        fx = fourier_features(cx.flatten(), slot_dim, grid / 2)
        fy = fourier_features(cy.flatten(), slot_dim, grid / 2)
        # The query sees its centre where the key sees (x0, y0, x1, y1): same layout of features.
        self.register_buffer("patch_fourier", torch.cat([fx, fy, fx, fy], dim=-1)[None], persistent=False)

    # -- vocabularies ----------------------------------------------------------------------------
    def class_vocab(self) -> torch.Tensor:
        return self.class_table.weight

    def coord_vocab(self) -> torch.Tensor:
        return torch.cat([self.coord_fourier, self.coord_none[None]], dim=0)

    def embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) token ids -> (B, L, slot_dim), slots in (class, x0, y0, x1, y1) order per object."""
        b, length = tokens.shape
        t = tokens.view(b, -1, 5)
        cls = self.class_vocab()[t[..., 0]]
        crd = self.coord_vocab()[t[..., 1:]]
        return torch.cat([cls[..., None, :], crd], dim=2).view(b, length, -1)

    # -- forward -----------------------------------------------------------------------------------
    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, layout: torch.Tensor) -> torch.Tensor:
        b = sample.shape[0]
        p = self.config.patch
        x = F.pixel_unshuffle(sample, p).flatten(2).transpose(1, 2)          # (B, N, C*p*p)
        x = self.patch_in(x) + self.pos
        objs = layout.view(b, -1, 5 * self.config.slot_dim)                    # (B, M, 5D)
        tokens = self.object_mlp(objs)
        keys = tokens + self.key_pos(objs[..., self.config.slot_dim:])
        null = self.null_token.expand(b, -1, -1)
        keys, values = torch.cat([null, keys], 1), torch.cat([null, tokens], 1)
        c = self.time_emb(self.time_proj(timestep).to(x.dtype)) + self.layout_to_c(tokens.mean(1))
        qpos = self.query_pos(self.patch_fourier.to(x.dtype))
        for block in self.blocks:
            x = block(x, c, qpos, keys, values)
        shift, scale = self.ada_out(F.silu(c)).chunk(2, dim=-1)
        x = self.patch_out(_modulate(self.norm_out(x), shift, scale))
        s = self.tokens_per_side
        return F.pixel_shuffle(x.transpose(1, 2).reshape(b, -1, s, s), p)
