"""Class-conditional diffusers ``UNet2DModel``s: size presets for the second architecture family.

The paper's Table VI compares a UNet latent diffusion model (LDM-4) with a DiT. Our small
counterpart is a pixel-space ``UNet2DModel`` whose class table (``num_class_embeds``) is added to
the timestep embedding; its last row is the classifier-free null class, so the table has
``num_classes + 1`` rows and ``dive_bench.json`` records ``null_class_index``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import UNet2DModel


@dataclass(frozen=True)
class UNetPreset:
    channels: tuple[int, ...]
    #: per resolution level, whether its blocks carry self-attention
    attention: tuple[bool, ...]
    groups: int = 8
    head_dim: int = 8
    layers_per_block: int = 1


PRESETS: dict[str, UNetPreset] = {
    # 28x28 -> 14 -> 7, attention only at 7x7 (49 positions). 0.17M parameters; a forward pass on
    # 100 images takes ~145 ms at 1 thread, about 2x dit-fmnist-b's (UNet convolutions run at full
    # resolution, where the DiT works on 49 patch tokens). Wider channels (16-32-32: 0.27M, 2.1x
    # slower than this) would make a DIVE row cost hours on the reference protocol.
    "s": UNetPreset(channels=(8, 16, 32), attention=(False, False, True)),
}


def build_class_unet(preset: str | UNetPreset, *, num_classes: int, sample_size: int,
                     in_channels: int = 1) -> UNet2DModel:
    """A UNet with ``num_classes + 1`` class rows (the last is the CFG null class)."""
    p = PRESETS[preset] if isinstance(preset, str) else preset
    down = tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in p.attention)
    up = tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(p.attention))
    model = UNet2DModel(sample_size=sample_size, in_channels=in_channels, out_channels=in_channels,
                        layers_per_block=p.layers_per_block, block_out_channels=p.channels,
                        down_block_types=down, up_block_types=up, norm_num_groups=p.groups,
                        attention_head_dim=p.head_dim, num_class_embeds=num_classes + 1)
    # the DiT label tables' scale (std 0.02, models/class_dit.py) rather than nn.Embedding's 1:
    # one DIVE learning rate then moves both families' conditions by comparable amounts
    torch.nn.init.normal_(model.class_embedding.weight, std=0.02)
    return model
