"""Tiny in-process models for tests and benchmarks (here and in plugin packages): no downloads."""

from __future__ import annotations

import torch

from .models.class_dit import DiTPreset, build_class_dit, label_table

TINY = DiTPreset(heads=2, head_dim=8, depth=2, patch=2)


def make_dit(num_classes: int = 5, tied: bool = True, learn_sigma: bool = False, seed: int = 0,
             in_channels: int = 1, sample_size: int = 8):
    torch.manual_seed(seed)
    model = build_class_dit(TINY, num_classes=num_classes, sample_size=sample_size, in_channels=in_channels,
                            learn_sigma=learn_sigma, tied=tied)
    # Random (untrained) weights everywhere, including the zero-initialised adaLN and output
    # layers, so a wrong injection cannot hide behind zeros.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        if not tied:
            for block in model.transformer_blocks:
                label_table(block).weight.normal_(std=0.3)
    return model.eval()


def make_unet(num_classes: int = 5, seed: int = 0):
    from diffusers import UNet2DModel

    torch.manual_seed(seed)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                       layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4, num_class_embeds=num_classes)
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return unet.eval()
