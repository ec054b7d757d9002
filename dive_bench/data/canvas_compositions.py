"""The canvas detection set seen as a classification dataset, for the in-domain feature extractor.

Fidelity metrics on canvases need features trained on canvases (Inception features of 32x32
coloured shapes mostly measure resampling, as on Fashion-MNIST). Each canvas is labelled with its
*composition*: how many objects of each class it shows, e.g. "2 disk + 1 triangle" (19 labels for
1-3 objects of 3 classes). Why this target and not the others we considered:

- *which classes are present* (multi-label) can be read off the colours alone, so the features
  would not care whether an image has one disk or three, or two blobs merged into one;
- *the full layout* (boxes) is what DIVE itself is scored on; features trained to read boxes
  would make FD a second detection score rather than an image statistic;
- *the composition* is one label per image (so the existing single-label trainer and the Inception
  Score on its logits apply unchanged), and to get it right the network must separate and count
  the objects, so missing, extra, merged or malformed shapes move the features.

Splits: ``train`` is the layout models' own training split (4,000 canvases, seed 0, as
``training/layout.py`` draws it); ``test`` is a split of 1,000 canvases that nothing else uses.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch

from dive_bench.data.base import ImageDataset
from dive_bench.data.canvas import DEFAULT_CLASSES, load_canvas

#: split -> number of canvases (train: the layout models' training split)
SPLITS = {"train": 4000, "test": 1000}
DATA_SEED = 0
MAX_OBJECTS = 3
GRID = 17


def compositions(num_classes: int, max_objects: int, min_objects: int = 1) -> list[tuple[int, ...]]:
    """Every per-class count vector with ``min_objects`` to ``max_objects`` objects in all, in a
    fixed order (by total, then lexicographically descending): the label space."""
    out = []
    for total in range(min_objects, max_objects + 1):
        out += sorted((c for c in itertools.product(range(total + 1), repeat=num_classes) if sum(c) == total),
                      reverse=True)
    return out


def composition_name(counts: tuple[int, ...], class_names: tuple[str, ...]) -> str:
    """(2, 0, 1) -> "2 square + 1 triangle"."""
    return " + ".join(f"{n} {name}" for n, name in zip(counts, class_names) if n)


def composition_labels(annotations: list[list[dict]], category_ids: list[int],
                       label_space: list[tuple[int, ...]]) -> torch.Tensor:
    """The composition label of each image from its COCO annotations (category ids in class order)."""
    index = {c: i for i, c in enumerate(label_space)}
    position = {cid: k for k, cid in enumerate(category_ids)}
    labels = []
    for anns in annotations:
        counts = [0] * len(category_ids)
        for a in anns:
            counts[position[a["category_id"]]] += 1
        labels.append(index[tuple(counts)])
    return torch.tensor(labels, dtype=torch.int64)


def load_canvas_compositions(split: str = "test", root: str | None = None) -> ImageDataset:
    """The canvas ``split`` (``train`` or ``test``) with composition labels (generated into the
    canvas cache on first use, like every canvas split)."""
    if split not in SPLITS:
        raise ValueError(f"canvas has splits {', '.join(repr(s) for s in SPLITS)}, not {split!r}")
    data = load_canvas(Path(root) if root else None, split, SPLITS[split], seed=DATA_SEED, max_objects=MAX_OBJECTS,
                       grid=GRID)
    category_ids = [c["id"] for c in sorted(data.categories, key=lambda c: c["id"])]
    space = compositions(len(DEFAULT_CLASSES), MAX_OBJECTS)
    names = tuple(composition_name(c, DEFAULT_CLASSES) for c in space)
    return ImageDataset("canvas", split, data.images, composition_labels(data.annotations, category_ids, space), names)
