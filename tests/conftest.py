"""Tiny models built in-process (nothing downloads), shared by the test modules."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from dive_bench.adapters.dit import DiTAdapter  # noqa: E402
from dive_bench.adapters.unet import UNetAdapter  # noqa: E402
from dive_bench.models.class_dit import DiTPreset, build_class_dit, label_table  # noqa: E402

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


@pytest.fixture
def dit_adapter():
    return DiTAdapter(make_dit(), name="tiny-dit")


@pytest.fixture
def unet_adapter():
    return UNetAdapter(make_unet(), name="tiny-unet")


@pytest.fixture(scope="session")
def digits_adapter():
    from dive_bench.adapters import load_model

    return load_model("dit-digits-xs")


@pytest.fixture(scope="session")
def digits_test():
    from dive_bench.data import DATASETS

    return DATASETS.get("digits")("test")
