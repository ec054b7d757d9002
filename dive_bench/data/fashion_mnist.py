"""Fashion-MNIST read from IDX files (the Debian package ``dataset-fashion-mnist`` ships them).

The numpy part (file finding, IDX parsing) lives in :mod:`.idx`, torch-free for reports; this
module wraps its arrays in an :class:`ImageDataset` and re-exports its names."""

from __future__ import annotations

import torch

from dive_bench.data.base import ImageDataset
from dive_bench.data.idx import CLASS_NAMES, DEFAULT_ROOT, FILES, ROOT_ENV, find_idx, fmnist_arrays, read_idx

_FILES = FILES
_find = find_idx


def load_fashion_mnist(split: str = "test", root: str | None = None) -> ImageDataset:
    if split not in FILES:
        raise ValueError(f"fmnist has splits 'train' and 'test', not {split!r}")
    images, labels = fmnist_arrays(split, root)
    return ImageDataset("fmnist", split, torch.from_numpy(images), torch.from_numpy(labels), CLASS_NAMES)


__all__ = ["CLASS_NAMES", "DEFAULT_ROOT", "ROOT_ENV", "load_fashion_mnist", "read_idx"]
