"""Class-conditional diffusers DiTs: size presets and label-table tying.

A DiT converted from the original code has one label table copied into every block (tied); one
trained natively in diffusers has a table per block (untied). We train tied models, like the
original DiT, by sharing a single ``nn.Embedding`` across blocks. Shared tensors cannot be saved
with safetensors, so ``untie`` before ``save_pretrained`` and ``tie`` after loading.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DiTTransformer2DModel


@dataclass(frozen=True)
class DiTPreset:
    heads: int
    head_dim: int
    depth: int
    patch: int


PRESETS: dict[str, DiTPreset] = {
    # Sized for CPU: cost grows with tokens x width^2 x depth.
    "xs": DiTPreset(heads=4, head_dim=16, depth=4, patch=2),    # 8x8 digits, 16 tokens
    "s": DiTPreset(heads=2, head_dim=16, depth=2, patch=4),     # 28x28, 49 tokens, width 32
    "b": DiTPreset(heads=4, head_dim=16, depth=4, patch=4),     # 28x28, 49 tokens, width 64
    # 16x16 numbers (data/numbers.py): patch 4 puts 2x2 tokens on each 8x8 glyph cell, 16 tokens;
    # width 128 for a 1000-row label table. 166 ms per batch-64 step at 1 thread (vs 277 for xs's
    # 64 tokens at width 64).
    "m": DiTPreset(heads=4, head_dim=32, depth=4, patch=4),
}


def build_class_dit(preset: str | DiTPreset, *, num_classes: int, sample_size: int, in_channels: int = 1,
                    learn_sigma: bool = False, tied: bool = True) -> DiTTransformer2DModel:
    p = PRESETS[preset] if isinstance(preset, str) else preset
    model = DiTTransformer2DModel(
        num_attention_heads=p.heads, attention_head_dim=p.head_dim, in_channels=in_channels,
        out_channels=2 * in_channels if learn_sigma else in_channels, num_layers=p.depth,
        sample_size=sample_size, patch_size=p.patch, num_embeds_ada_norm=num_classes,
    )
    # DiT initialises label tables with std 0.02 (diffusers leaves nn.Embedding's std 1); the
    # smaller scale matches the released DIVE learning rate and keeps class tokens comparable
    # to the timestep embedding.
    for block in model.transformer_blocks:
        torch.nn.init.normal_(label_table(block).weight, std=0.02)
    if tied:
        tie(model)
    return model


def label_table(block: torch.nn.Module) -> torch.nn.Embedding:
    return block.norm1.emb.class_embedder.embedding_table


def tables_are_tied(model: DiTTransformer2DModel) -> bool:
    """True when every block's label table holds the same values (shared or copied)."""
    first = label_table(model.transformer_blocks[0]).weight
    return all(torch.equal(label_table(b).weight, first) for b in model.transformer_blocks[1:])


def tie(model: DiTTransformer2DModel) -> None:
    """Make every block use block 0's label table module (shared parameters)."""
    shared = label_table(model.transformer_blocks[0])
    for block in model.transformer_blocks[1:]:
        block.norm1.emb.class_embedder.embedding_table = shared


def untie(model: DiTTransformer2DModel) -> None:
    """Give every block its own copy of the table, so safetensors can save it."""
    for block in model.transformer_blocks[1:]:
        table = label_table(block)
        copy = torch.nn.Embedding(table.num_embeddings, table.embedding_dim)
        copy.weight.data.copy_(table.weight.data)
        block.norm1.emb.class_embedder.embedding_table = copy


def disable_internal_label_dropout(model: DiTTransformer2DModel) -> None:
    """diffusers drops labels per block in train mode; we drop per sample ourselves instead."""
    for block in model.transformer_blocks:
        block.norm1.emb.class_embedder.dropout_prob = 0.0
