"""A seeded synthetic detection set in COCO format: coloured shapes on a dark canvas.

Why synthetic: no COCO images ship offline, and a detector built by inverting a layout model needs
a task where the answer is exact. Every box lies on a coordinate grid of ``grid`` values spanning
[0, image_size] (so a layout tokenizer represents it without rounding), is the tight extent of the
painted pixels, and is at least one grid cell away from every other box, so two objects of one class
never merge into one blob. Each class is one shape in one fixed colour, identifiable from pixels.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from dive_bench.errors import DiveBenchError
from dive_bench.util.seeding import item_seed
from dive_bench.data.coco import DetectionDataset, load_coco_detection

# Bump when the pixels or the json for given parameters change: it is part of the cache key.
CANVAS_VERSION = 1
DEFAULT_CLASSES = ("square", "disk", "triangle")
BACKGROUND = (16, 16, 24)
# One saturated colour per shape (not per class index), so reordering classes keeps the pixels.
SHAPE_COLOURS = {"square": (230, 57, 70), "disk": (46, 204, 113), "triangle": (58, 134, 255),
                 "diamond": (255, 190, 11)}
_GAP_CELLS = 1
_TRIES_PER_OBJECT = 50
_RESTARTS = 200
_SPLIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: optional fixed (width, height) in grid cells per class, in class order
ClassSizes = tuple[tuple[int, int], ...] | None


def shape_mask(shape: str, height: int, width: int) -> np.ndarray:
    """Boolean (height, width) mask of a filled shape whose extent is exactly the whole array.

    Disk and diamond test pixel centres against the inscribed outline, then add the centre row(s)
    and column(s): for elongated boxes the outline can miss the edge pixels, and the box must stay
    the tight extent of what is painted.
    """
    r = np.arange(height, dtype=np.float64)[:, None] + 0.5
    c = np.arange(width, dtype=np.float64)[None, :] + 0.5
    dx, dy = (c - width / 2) / (width / 2), (r - height / 2) / (height / 2)
    if shape == "square":
        return np.ones((height, width), dtype=bool)
    if shape == "triangle":
        # Apex up; each row at least one (odd width) or two (even width) centre pixels wide.
        half = np.maximum((r + 0.5) / height * width / 2, 0.5)
        return np.abs(c - width / 2) <= half
    if shape == "disk":
        mask = dx ** 2 + dy ** 2 <= 1.0
    elif shape == "diamond":
        mask = np.abs(dx) + np.abs(dy) <= 1.0
    else:
        raise DiveBenchError(f"unknown canvas shape {shape!r}; known: {', '.join(SHAPE_COLOURS)}")
    mask = mask.copy()
    mask[[(height - 1) // 2, height // 2], :] = True
    mask[:, [(width - 1) // 2, width // 2]] = True
    return mask


def _check_params(split: str, num_images: int, image_size: int, min_objects: int, max_objects: int,
                  classes: tuple[str, ...], grid: int, class_sizes: ClassSizes = None) -> tuple[int, int, int]:
    """Return (pixels per grid cell, min side in cells, max side in cells)."""
    if not _SPLIT_RE.match(split):
        raise DiveBenchError(f"split {split!r} must be letters, digits, '_' or '-' (it names folders and files)")
    if num_images < 1:
        raise DiveBenchError(f"num_images must be >= 1, got {num_images}")
    unknown = [c for c in classes if c not in SHAPE_COLOURS]
    if not classes or unknown or len(set(classes)) != len(classes):
        raise DiveBenchError(f"classes {classes!r} must be distinct shape names from {', '.join(SHAPE_COLOURS)}")
    if grid < 3 or image_size < 1 or image_size % (grid - 1):
        raise DiveBenchError(f"image_size {image_size} must be a multiple of grid - 1 = {grid - 1} (grid >= 3) so "
                             "that every grid coordinate is a whole pixel; e.g. 32 with grid 17")
    if not 0 <= min_objects <= max_objects:
        raise DiveBenchError(f"need 0 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
    cells = grid - 1
    lo = max(1, -(-cells // 4))
    hi = max(lo, cells // 2)
    if class_sizes is not None:
        if len(class_sizes) != len(classes) or any(len(wh) != 2 or not all(1 <= int(v) <= cells for v in wh)
                                                   for wh in class_sizes):
            raise DiveBenchError(f"class_sizes {class_sizes!r} must give one (width, height) in grid cells, each "
                                 f"1-{cells}, for each of the {len(classes)} classes {classes}")
    return image_size // cells, lo, hi


def _separated(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return (a[2] + _GAP_CELLS <= b[0] or b[2] + _GAP_CELLS <= a[0]
            or a[3] + _GAP_CELLS <= b[1] or b[3] + _GAP_CELLS <= a[1])


def _sample_layout(rng: np.random.Generator, count: int, cells: int, lo: int, hi: int,
                   num_classes: int, class_sizes: ClassSizes = None) -> list[tuple[int, int, int, int, int]]:
    """Rejection-sample ``count`` separated boxes (in grid cells) with classes: (cls, x0, y0, x1, y1).

    Without ``class_sizes`` sides are uniform in [lo, hi] and classes are drawn after the boxes (the
    original generator, whose draws must not change); with it each class has one fixed size, so
    the class is drawn first."""
    for _ in range(_RESTARTS):
        boxes: list[tuple[int, int, int, int]] = []
        labels = rng.integers(0, num_classes, size=count) if class_sizes is not None else None
        for _obj in range(count):
            for _try in range(_TRIES_PER_OBJECT):
                if labels is not None:
                    w, h = (int(v) for v in class_sizes[int(labels[_obj])])
                else:
                    w, h = (int(v) for v in rng.integers(lo, hi + 1, size=2))
                x0, y0 = int(rng.integers(0, cells - w + 1)), int(rng.integers(0, cells - h + 1))
                box = (x0, y0, x0 + w, y0 + h)
                if all(_separated(box, other) for other in boxes):
                    boxes.append(box)
                    break
            else:
                break
        if len(boxes) == count:
            if labels is None:
                labels = rng.integers(0, num_classes, size=count)
            return [(int(k), *box) for k, box in zip(labels, boxes)]
    raise DiveBenchError(f"could not place {count} non-overlapping objects of {lo}-{hi} grid cells on a "
                         f"{cells}-cell canvas; lower max_objects or use a finer grid")


def make_canvas_dataset(out_dir: Path, *, split: str, num_images: int, seed: int, image_size: int = 32,
                        max_objects: int = 3, min_objects: int = 1,
                        classes: tuple[str, ...] = DEFAULT_CLASSES, grid: int = 17,
                        class_sizes: ClassSizes = None) -> Path:
    """Write ``out_dir/{split}/images/NNNNNN.png`` and ``out_dir/{split}/instances_{split}.json``.

    Image ``k`` (file ``k:06d``.png, COCO id ``k + 1``) is drawn from its own generator seeded by
    (seed, split, k): the output is byte-identical for the same arguments, train and val differ,
    and a larger ``num_images`` extends a smaller set without changing it. Object counts are
    uniform in [min_objects, max_objects]; sides are 1/4 to 1/2 of the image on the grid, or with
    ``class_sizes`` one fixed (width, height) in grid cells per class: layouts then carry structure
    (which size goes with which class) that a layout prior can learn, as COCO's do.
    Returns the json path.
    """
    from PIL import Image

    classes = tuple(classes)
    step, lo, hi = _check_params(split, num_images, image_size, min_objects, max_objects, classes, grid, class_sizes)
    cells = grid - 1
    split_dir = Path(out_dir) / split
    if split_dir.exists():
        raise DiveBenchError(f"{split_dir} already exists; remove it or choose another out_dir")
    (split_dir / "images").mkdir(parents=True)

    images, annotations = [], []
    for k in range(num_images):
        rng = np.random.default_rng(item_seed(seed, f"canvas-{split}", k))
        count = int(rng.integers(min_objects, max_objects + 1))
        canvas = np.empty((image_size, image_size, 3), dtype=np.uint8)
        canvas[:] = BACKGROUND
        for cls, x0, y0, x1, y1 in _sample_layout(rng, count, cells, lo, hi, len(classes), class_sizes):
            px0, py0, w, h = x0 * step, y0 * step, (x1 - x0) * step, (y1 - y0) * step
            mask = shape_mask(classes[cls], h, w)
            canvas[py0:py0 + h, px0:px0 + w][mask] = SHAPE_COLOURS[classes[cls]]
            annotations.append({"id": len(annotations) + 1, "image_id": k + 1, "category_id": cls + 1,
                                "bbox": [px0, py0, w, h], "area": int(mask.sum()), "iscrowd": 0})
        file_name = f"{k:06d}.png"
        Image.fromarray(canvas, "RGB").save(split_dir / "images" / file_name, format="PNG")
        images.append({"id": k + 1, "width": image_size, "height": image_size, "file_name": file_name})

    payload = {
        "info": {"description": "dive_bench synthetic canvas", "version": CANVAS_VERSION, "seed": seed,
                 "split": split, "image_size": image_size, "grid": grid, "min_objects": min_objects,
                 "max_objects": max_objects, "classes": list(classes),
                 **({"class_sizes": [list(wh) for wh in class_sizes]} if class_sizes is not None else {})},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": name, "supercategory": "shape"} for i, name in enumerate(classes)],
    }
    json_path = split_dir / f"instances_{split}.json"
    json_path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    return json_path


def canvas_cache_root(root: Path | None = None) -> Path:
    """``root``, else ``$DIVE_BENCH_CACHE/canvas``, else ``~/.cache/dive_bench/canvas``."""
    from dive_bench.util.cache import cache_root

    return Path(root) if root is not None else cache_root() / "canvas"


def canvas_params_hash(**params: object) -> str:
    key = json.dumps({"version": CANVAS_VERSION, **params}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def ensure_canvas(root: Path | None, split: str, num_images: int, seed: int = 0, *, image_size: int = 32,
                  max_objects: int = 3, min_objects: int = 1, classes: tuple[str, ...] = DEFAULT_CLASSES,
                  grid: int = 17, class_sizes: ClassSizes = None) -> Path:
    """Generate the split into the cache unless present; return its json path.

    The cache folder is ``<cache root>/<hash of the parameters>/<split>``. Generation happens in a
    temporary folder beside it that is renamed into place, so a killed run or a concurrent one
    never leaves a half-written split that a later run would trust.
    """
    classes = tuple(classes)
    params = dict(num_images=num_images, seed=seed, image_size=image_size, max_objects=max_objects,
                  min_objects=min_objects, classes=list(classes), grid=grid)
    if class_sizes is not None:  # absent otherwise, so the folders of earlier sets keep their hash
        params["class_sizes"] = [list(map(int, wh)) for wh in class_sizes]
    _check_params(split, num_images, image_size, min_objects, max_objects, classes, grid, class_sizes)
    final = canvas_cache_root(root) / canvas_params_hash(**params) / split
    json_path = final / f"instances_{split}.json"
    if json_path.is_file():
        return json_path
    if final.exists():
        raise DiveBenchError(f"{final} exists but has no {json_path.name}; it is not a complete canvas split - delete it")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{split}-", dir=final.parent))
    try:
        make_canvas_dataset(tmp, split=split, num_images=num_images, seed=seed, image_size=image_size,
                            max_objects=max_objects, min_objects=min_objects, classes=classes, grid=grid,
                            class_sizes=class_sizes)
        try:
            os.rename(tmp / split, final)
        except OSError:
            if not json_path.is_file():  # not a lost race with another process: a real failure
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return json_path


def load_canvas(root: Path | None, split: str, num_images: int, seed: int = 0, *, image_size: int = 32,
                max_objects: int = 3, min_objects: int = 1, classes: tuple[str, ...] = DEFAULT_CLASSES,
                grid: int = 17, class_sizes: ClassSizes = None) -> DetectionDataset:
    """The canvas split as a :class:`DetectionDataset`, generated on first use (see :func:`ensure_canvas`)."""
    json_path = ensure_canvas(root, split, num_images, seed, image_size=image_size, max_objects=max_objects,
                              min_objects=min_objects, classes=classes, grid=grid, class_sizes=class_sizes)
    return load_coco_detection(json_path, json_path.parent / "images")
