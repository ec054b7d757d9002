"""Dataset loaders. Each returns an :class:`ImageDataset` of uint8 images; nothing downloads."""

from ..registry import Registry
from .base import ImageDataset

DATASETS: Registry = Registry("dataset")
DATASETS.register("digits", "dive_bench.data.digits:load_digits_dataset",
                  description="scikit-learn 8x8 digits, 10 classes (train 1297 / test 500)")
DATASETS.register("fmnist", "dive_bench.data.fashion_mnist:load_fashion_mnist",
                  description="Fashion-MNIST 28x28 from the Debian package dataset-fashion-mnist")
DATASETS.register("imagenet-folder", "dive_bench.data.imagenet:load_imagenet_folder",
                  description="ImageNet-style class folders + optional subset-ids file (GPU runs)")

__all__ = ["DATASETS", "ImageDataset"]
