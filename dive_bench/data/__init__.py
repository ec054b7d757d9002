"""Dataset loaders. Each returns an :class:`ImageDataset` of uint8 images; nothing downloads.

This module imports no torch: ``dive-bench list`` reads the registry, and each loader (and
``ImageDataset``) is imported when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dive_bench.registry import Registry, lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from dive_bench.data.base import ImageDataset  # noqa: F401

DATASETS: Registry = Registry("dataset")
DATASETS.register("canvas", "dive_bench.data.canvas_compositions:load_canvas_compositions",
                  description="canvas shapes 32x32 labelled by composition (1-3 objects of 3 shapes: 19 labels; "
                              "train 4000 / test 1000), for the in-domain canvas extractor")
DATASETS.register("digits", "dive_bench.data.digits:load_digits_dataset",
                  description="scikit-learn 8x8 digits, 10 classes (train 1297 / test 500)")
DATASETS.register("fmnist", "dive_bench.data.fashion_mnist:load_fashion_mnist",
                  description="Fashion-MNIST 28x28 from the Debian package dataset-fashion-mnist")
DATASETS.register("imagenet-folder", "dive_bench.data.imagenet:load_imagenet_folder",
                  description="ImageNet-style class folders + optional subset-ids file (GPU runs)")
DATASETS.register("numbers-10", "dive_bench.data.numbers:load_numbers_10",
                  description="numbers 0-9 from digit glyphs on a 16x16 2x2 grid (train / dev / test glyphs disjoint)")
DATASETS.register("numbers-100", "dive_bench.data.numbers:load_numbers_100",
                  description="numbers 00-99 from digit glyphs on a 16x16 2x2 grid (train / dev / test glyphs disjoint)")
DATASETS.register("numbers-1000", "dive_bench.data.numbers:load_numbers_1000",
                  description="numbers 000-999 from digit glyphs on a 16x16 2x2 grid (train / dev / test glyphs disjoint)")

#: re-exported on first use: data/base.py imports torch
__getattr__ = lazy_exports(globals(), {"ImageDataset": "dive_bench.data.base"})

__all__ = ["DATASETS", "ImageDataset"]
