"""Task specs: a dataset split, item ids, and how predictions become metrics."""

from ..registry import Registry
from .classification import ClassificationTask
from .detection import DetectionTask

TASKS: Registry = Registry("task")
TASKS.register("digits", ClassificationTask("digits", "1", "digits", "test",
                                            "scikit-learn digits, last 500 images (8x8)"),
               description="scikit-learn digits, 500 test images, 8x8, 10 classes")
TASKS.register("fmnist", ClassificationTask("fmnist", "1", "fmnist", "test",
                                            "Fashion-MNIST test split (10,000 images, 28x28)"),
               description="Fashion-MNIST test split, 10,000 images, 28x28, 10 classes")
TASKS.register("imagenet-2x1000", ClassificationTask("imagenet-2x1000", "1", "imagenet-folder", "val",
                                                     "ImageNet val, first 2 images per class (DIVE paper protocol)"),
               description="ImageNet val, first 2 per class (needs --data-root; GPU)")

TASKS.register("canvas-det", DetectionTask("canvas-det", "1", "val", 100, description="seeded canvas set, val split"),
               description="canvas detection set, 100 val images, 32x32, 1-3 of 3 shapes (COCO AP)")
# Method settings (prior weight, steps, ...) are chosen on this split, never on val, so that the
# val numbers in a table are not tuned on the images they report.
TASKS.register("canvas-det-dev", DetectionTask("canvas-det-dev", "1", "dev", 50,
                                               description="seeded canvas set, dev split (for tuning)"),
               description="canvas detection set, 50 dev images for tuning method settings (not for reporting)")

__all__ = ["TASKS", "ClassificationTask", "DetectionTask"]
