"""Task specs: a dataset split, item ids, and how predictions become metrics.

``TASKS`` holds ``"module:attr"`` references (the built-in tasks live in ``tasks/builtin.py``),
imported on first lookup: this package is imported whenever any ``dive_bench.tasks.*`` module
is, and must not load torch or a dataset loader for that (``dive-bench list``, ``check``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dive_bench.registry import Registry, lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from dive_bench.tasks.classification import ClassificationTask  # noqa: F401
    from dive_bench.tasks.detection import DetectionTask  # noqa: F401

TASKS: Registry = Registry("task")
_BUILTIN = "dive_bench.tasks.builtin"
TASKS.register("digits", f"{_BUILTIN}:DIGITS", description="scikit-learn digits, 500 test images, 8x8, 10 classes")
TASKS.register("fmnist", f"{_BUILTIN}:FMNIST", description="Fashion-MNIST test split, 10,000 images, 28x28, 10 classes")
TASKS.register("imagenet-2x1000", f"{_BUILTIN}:IMAGENET_2X1000",
               description="ImageNet val, first 2 per class (needs --data-root; GPU)")
TASKS.register("canvas-det", f"{_BUILTIN}:CANVAS_DET",
               description="canvas detection set, 100 val images, 32x32, 1-3 of 3 shapes (COCO AP)")
TASKS.register("canvas-det-dev", f"{_BUILTIN}:CANVAS_DET_DEV",
               description="canvas detection set, 50 dev images for tuning method settings (not for reporting)")
TASKS.register("canvas-det-ref", f"{_BUILTIN}:CANVAS_DET_REF",
               description="canvas detection set, 2,000 ref images: the reference of layout models' fidelity runs")
TASKS.register("canvas-det-sized", f"{_BUILTIN}:CANVAS_DET_SIZED",
               description="canvas detection set with one fixed size per class, 100 val images (COCO AP)")
TASKS.register("canvas-det-sized-dev", f"{_BUILTIN}:CANVAS_DET_SIZED_DEV",
               description="canvas-det-sized dev split, 50 images for tuning method settings (not for reporting)")

# A user's own test set, named on the command line by its path and in runs by the content hash of
# its items (tasks/folder.py, tasks/coco.py): `TASKS.get("folder:/data/test")` builds it.
TASKS.register_prefix("folder", "dive_bench.tasks.folder:folder_task", usage="folder:DIR",
                      description="your classification set: DIR/<class>/<image> (or DIR/labels.csv), stored size")
TASKS.register_prefix("coco", "dive_bench.tasks.coco:coco_task",
                      usage="coco:INSTANCES.json:IMAGES_DIR[:SUBSET_IDS][:size=N]",
                      description="your COCO-format detection set, box AP for a layout model")
TASKS.register_prefix("generated", "dive_bench.tasks.generated:generated_task", usage="generated:DIR",
                      description="a model's own samples (DIR: a fidelity run's --out), labelled with the class "
                                  "or layout each came from: the self-consistency score")

#: task classes re-exported on first use (their modules import dataset code and torch)
_LAZY = {"ClassificationTask": "dive_bench.tasks.classification", "DetectionTask": "dive_bench.tasks.detection"}


__getattr__ = lazy_exports(globals(), _LAZY)


__all__ = ["TASKS", "ClassificationTask", "DetectionTask"]
# Numbers composed from digit glyphs (data/numbers.py, tasks/numbers.py): K = 10, 100, 1000 on one
# 16x16 canvas, test glyphs never seen in training; each has a dev split of other held-out glyphs.
for _k, _n in ((10, 500), (100, 1000), (1000, 2000)):
    TASKS.register(f"numbers-{_k}", f"dive_bench.tasks.numbers:NUMBERS_{_k}",
                   description=f"numbers from digit glyphs, {_k} classes, {_n} test images (16x16, unseen glyphs)")
    TASKS.register(f"numbers-{_k}-dev", f"dive_bench.tasks.numbers:NUMBERS_{_k}_DEV",
                   description=f"numbers-{_k} dev split for tuning method settings (not for reporting)")
