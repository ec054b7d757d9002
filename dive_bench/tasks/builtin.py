"""The built-in tasks. ``TASKS`` (``tasks/__init__.py``) refers to them by name and imports this
module the first time one is looked up, so listing tasks loads no dataset code or torch."""

from __future__ import annotations

from dive_bench.tasks.classification import ClassificationTask
from dive_bench.tasks.detection import DetectionTask

DIGITS = ClassificationTask("digits", "1", "digits", "test", "scikit-learn digits, last 500 images (8x8)")
FMNIST = ClassificationTask("fmnist", "1", "fmnist", "test", "Fashion-MNIST test split (10,000 images, 28x28)")
# The paper's released DIVE (200 steps of 25 probes, ...) is this task's protocol: declared, so
# the large-label-space rule (spec/defaults.py) does not replace it at K = 1000.
IMAGENET_2X1000 = ClassificationTask("imagenet-2x1000", "1", "imagenet-folder", "val",
                                     "ImageNet val, first 2 images per class (DIVE paper protocol)",
                                     method_defaults={"dive": {}})

CANVAS_DET = DetectionTask("canvas-det", "1", "val", 100, description="seeded canvas set, val split")
# Method settings (prior weight, steps, ...) are chosen on this split, never on val, so that the
# val numbers in a table are not tuned on the images they report.
CANVAS_DET_DEV = DetectionTask("canvas-det-dev", "1", "dev", 50, description="seeded canvas set, dev split (for tuning)")
# The reference set of layout models' fidelity runs (`dive-bench fidelity MODEL --reference
# canvas-det-ref`): FD compares feature covariances, and val's 100 images are too few for the
# canvas extractor's 64 dimensions (its reference covariance would be mostly sampling noise). A
# split of its own, so neither the tuning split nor the scored val images serve as the reference.
CANVAS_DET_REF = DetectionTask("canvas-det-ref", "1", "ref", 2000,
                               description="seeded canvas set, ref split (2,000 images: the fidelity reference)")

# The same canvases with one fixed size per class (square 4x4, disk 6x6, triangle 8x6 grid cells).
# On canvas-det sizes are uniform and independent of the class, so DIVE's typical error (a box side
# one cell off) is as plausible as the truth and no layout prior can tell them apart; here that
# error breaks a rule of the data, as on COCO, where sizes and shapes depend on the class. The
# layout-canvas-s image model was trained on canvas-det, whose layouts include these.
# (README, "Object detection", says what priors trained on these layouts have learned so far.)
SIZED = ((4, 4), (6, 6), (8, 6))
# DIVE defaults here: the canvas-det ones, with the prior weight and prior repairs chosen on
# canvas-det-sized-dev (leaderboards/sized_runs.sh, leaderboards/tuning-sized/TUNING.md): weight
# 0.03 with repairs gave dev AP 72.5 against 51.6 without a prior and 51.5 with the prior's loss
# alone; larger weights pull slots off their objects. Neighbour repairs on top (the canvas-det
# default): 74.8, against 57.6 for neighbour repairs without the prior.
SIZED_DIVE = {**DetectionTask.default_dive(), "prior_weight": 0.03, "prior_repairs": True}
CANVAS_DET_SIZED = DetectionTask("canvas-det-sized", "1", "val", 100, class_sizes=SIZED,
                                 description="seeded canvas set with one size per class, val split",
                                 method_defaults={"dive": SIZED_DIVE})
CANVAS_DET_SIZED_DEV = DetectionTask("canvas-det-sized-dev", "1", "dev", 50, class_sizes=SIZED,
                                     description="canvas set with one size per class, dev split",
                                     method_defaults={"dive": SIZED_DIVE})
