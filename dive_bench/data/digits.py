"""scikit-learn's 8x8 digits, split by position (first 1297 train, last 500 test)."""

from __future__ import annotations

import torch

from dive_bench.data.base import ImageDataset

TEST_SIZE = 500


def load_digits_dataset(split: str = "test", root: str | None = None) -> ImageDataset:
    """The split is positional, not random, so it never changes between library versions."""
    from sklearn.datasets import load_digits

    if split not in ("train", "test"):
        raise ValueError(f"digits has splits 'train' and 'test', not {split!r}")
    bunch = load_digits()
    # Pixel values are 0..16; stretch to 0..255 so the model sees the usual uint8 range.
    images = torch.from_numpy(bunch.images).mul(255.0 / 16.0).round().clamp(0, 255).to(torch.uint8)
    labels = torch.from_numpy(bunch.target).long()
    cut = len(labels) - TEST_SIZE
    sl = slice(0, cut) if split == "train" else slice(cut, None)
    return ImageDataset("digits", split, images[sl].unsqueeze(1).contiguous(), labels[sl].contiguous(),
                        tuple(str(i) for i in range(10)))
