"""scikit-learn's 8x8 digits, split by position (first 1297 train, last 500 test).

The pixels come from :func:`dive_bench.data.glyphs.digits_arrays` (numpy, torch-free for reports)."""

from __future__ import annotations

import torch

from dive_bench.data.base import ImageDataset
from dive_bench.data.glyphs import DIGITS_TEST_SIZE, digits_arrays

TEST_SIZE = DIGITS_TEST_SIZE


def load_digits_dataset(split: str = "test", root: str | None = None) -> ImageDataset:
    """The split is positional, not random, so it never changes between library versions."""
    if split not in ("train", "test"):
        raise ValueError(f"digits has splits 'train' and 'test', not {split!r}")
    images, labels = digits_arrays(split)
    return ImageDataset("digits", split, torch.from_numpy(images), torch.from_numpy(labels),
                        tuple(str(i) for i in range(10)))
