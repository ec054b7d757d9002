"""Synthetic canvas detection set: determinism, exact grid boxes, no overlaps, atomic cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dive_bench.data import canvas as canvas_mod
from dive_bench.data.canvas import (BACKGROUND, SHAPE_COLOURS, ensure_canvas, load_canvas, make_canvas_dataset,
                                    shape_mask)
from dive_bench.errors import DiveBenchError


def _files(split_dir):
    return {p.relative_to(split_dir).as_posix(): p.read_bytes() for p in sorted(split_dir.rglob("*")) if p.is_file()}


def test_same_seed_is_byte_identical_and_seeds_splits_differ(tmp_path):
    a = make_canvas_dataset(tmp_path / "a", split="train", num_images=6, seed=3)
    b = make_canvas_dataset(tmp_path / "b", split="train", num_images=6, seed=3)
    assert _files(a.parent) == _files(b.parent) and len(_files(a.parent)) == 7
    c = make_canvas_dataset(tmp_path / "c", split="train", num_images=6, seed=4)
    assert c.read_bytes() != a.read_bytes()
    val = make_canvas_dataset(tmp_path / "a", split="val", num_images=6, seed=3)
    assert json.loads(val.read_text())["annotations"] != json.loads(a.read_text())["annotations"]


def test_larger_set_extends_smaller_one(tmp_path):
    small = make_canvas_dataset(tmp_path / "s", split="val", num_images=3, seed=0)
    large = make_canvas_dataset(tmp_path / "l", split="val", num_images=5, seed=0)
    for k in range(3):
        name = f"images/{k:06d}.png"
        assert (small.parent / name).read_bytes() == (large.parent / name).read_bytes()


def test_coco_layout_grid_sides_and_no_overlap(tmp_path):
    data = json.loads(make_canvas_dataset(tmp_path, split="val", num_images=40, seed=1).read_text())
    assert [img["id"] for img in data["images"]] == list(range(1, 41))
    assert data["images"][0] == {"id": 1, "width": 32, "height": 32, "file_name": "000000.png"}
    assert [a["id"] for a in data["annotations"]] == list(range(1, len(data["annotations"]) + 1))
    assert [c["id"] for c in data["categories"]] == [1, 2, 3]
    assert [c["name"] for c in data["categories"]] == ["square", "disk", "triangle"]
    by_image: dict[int, list] = {}
    for ann in data["annotations"]:
        x, y, w, h = ann["bbox"]
        assert all(isinstance(v, int) and v % 2 == 0 for v in (x, y, w, h))  # 17-value grid on 32 px
        assert 8 <= w <= 16 and 8 <= h <= 16 and x + w <= 32 and y + h <= 32
        assert ann["iscrowd"] == 0 and 0 < ann["area"] <= w * h
        by_image.setdefault(ann["image_id"], []).append((x, y, x + w, y + h))
    counts = [len(by_image.get(i, [])) for i in range(1, 41)]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) > 1
    for boxes in by_image.values():
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                # at least one grid cell (2 px) apart along some axis
                assert a[2] + 2 <= b[0] or b[2] + 2 <= a[0] or a[3] + 2 <= b[1] or b[3] + 2 <= a[1]


def test_boxes_are_the_tight_extent_of_painted_pixels(tmp_path):
    ds = load_canvas(tmp_path, "val", 25, seed=2)
    names = [c["name"] for c in ds.categories]
    for image, anns in zip(ds.images.permute(0, 2, 3, 1).numpy(), ds.annotations):
        painted = np.any(image != np.array(BACKGROUND, dtype=np.uint8), axis=-1)
        covered = np.zeros_like(painted)
        for ann in anns:
            x, y, w, h = ann["bbox"]
            covered[y:y + h, x:x + w] = True
            inside = painted[y:y + h, x:x + w]
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            assert int(inside.sum()) == ann["area"]
            colour = SHAPE_COLOURS[names[ann["category_id"] - 1]]
            assert (image[y:y + h, x:x + w][inside] == colour).all()
        assert not (painted & ~covered).any()


@pytest.mark.parametrize("shape", list(SHAPE_COLOURS))
@pytest.mark.parametrize("h,w", [(8, 8), (8, 16), (16, 8), (2, 8), (8, 2), (1, 1), (3, 5)])
def test_shape_masks_fill_their_box(shape, h, w):
    mask = shape_mask(shape, h, w)
    assert mask.shape == (h, w)
    assert mask.any(axis=1).all() and mask.any(axis=0).all()


def test_shapes_are_distinct_from_each_other():
    masks = {s: shape_mask(s, 16, 16) for s in SHAPE_COLOURS}
    assert len({m.tobytes() for m in masks.values()}) == len(masks)
    assert len(set(SHAPE_COLOURS.values())) == len(SHAPE_COLOURS) and BACKGROUND not in SHAPE_COLOURS.values()


def test_empty_images_are_allowed(tmp_path):
    data = json.loads(make_canvas_dataset(tmp_path, split="val", num_images=3, seed=0,
                                          min_objects=0, max_objects=0).read_text())
    assert data["annotations"] == [] and len(data["images"]) == 3


def test_other_sizes_and_grids(tmp_path):
    data = json.loads(make_canvas_dataset(tmp_path, split="val", num_images=5, seed=0, image_size=64, grid=9,
                                          classes=("diamond", "disk")).read_text())
    for ann in data["annotations"]:
        assert all(v % 8 == 0 for v in ann["bbox"]) and ann["category_id"] in (1, 2)


def test_class_sizes_fix_each_class_size_and_leave_default_sets_alone(tmp_path):
    sizes = ((4, 4), (6, 6), (8, 6))
    data = json.loads(make_canvas_dataset(tmp_path / "s", split="val", num_images=30, seed=0, class_sizes=sizes).read_text())
    assert data["info"]["class_sizes"] == [[4, 4], [6, 6], [8, 6]]
    seen = set()
    for ann in data["annotations"]:
        w, h = sizes[ann["category_id"] - 1]
        assert ann["bbox"][2:] == [2 * w, 2 * h]  # 2 pixels per grid cell at 32 px, grid 17
        seen.add(ann["category_id"])
    assert seen == {1, 2, 3}
    plain = make_canvas_dataset(tmp_path / "p", split="val", num_images=30, seed=0)
    assert "class_sizes" not in json.loads(plain.read_text())["info"]
    # the cache folder of a default set keeps its hash (stored runs and caches point at it)
    assert ensure_canvas(tmp_path, "val", 3).parent.parent.name == canvas_mod.canvas_params_hash(
        num_images=3, seed=0, image_size=32, max_objects=3, min_objects=1, classes=["square", "disk", "triangle"], grid=17)
    assert ensure_canvas(tmp_path, "val", 3, class_sizes=sizes).parent.parent != ensure_canvas(tmp_path, "val", 3).parent.parent


@pytest.mark.parametrize("kwargs,match", [
    (dict(class_sizes=((4, 4), (6, 6))), "class_sizes"),
    (dict(class_sizes=((4, 4), (6, 6), (17, 2))), "class_sizes"),
    (dict(image_size=30), "multiple of grid - 1"),
    (dict(classes=("square", "hexagon")), "shape names"),
    (dict(classes=("disk", "disk")), "distinct"),
    (dict(min_objects=2, max_objects=1), "min_objects"),
    (dict(min_objects=12, max_objects=12), "could not place 12"),
    (dict(split="../x"), "split"),
    (dict(num_images=0), "num_images"),
])
def test_bad_parameters_are_clear_errors(tmp_path, kwargs, match):
    args = dict(split="val", num_images=2, seed=0) | kwargs
    with pytest.raises(DiveBenchError, match=match):
        make_canvas_dataset(tmp_path, **args)


def test_existing_split_folder_is_not_overwritten(tmp_path):
    make_canvas_dataset(tmp_path, split="val", num_images=1, seed=0)
    with pytest.raises(DiveBenchError, match="already exists"):
        make_canvas_dataset(tmp_path, split="val", num_images=1, seed=0)


def test_cache_generates_once_and_leaves_no_temp(tmp_path, monkeypatch):
    first = ensure_canvas(tmp_path, "train", 4, seed=5)
    assert first.parent.name == "train" and first.parent.parent.parent == tmp_path

    def boom(*args, **kwargs):
        raise AssertionError("regenerated a cached split")

    monkeypatch.setattr(canvas_mod, "make_canvas_dataset", boom)
    assert ensure_canvas(tmp_path, "train", 4, seed=5) == first
    ds = load_canvas(tmp_path, "train", 4, seed=5)
    assert len(ds) == 4 and ds.coco_json == first
    assert [p.name for p in first.parent.parent.iterdir()] == ["train"]  # no .tmp-* left behind
    with pytest.raises(AssertionError):  # other parameters -> another cache entry
        ensure_canvas(tmp_path, "train", 4, seed=6)


def test_cache_root_from_env_and_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("DIVE_BENCH_CACHE", str(tmp_path / "cache"))
    path = ensure_canvas(None, "val", 2, seed=0)
    assert path.is_relative_to(tmp_path / "cache" / "canvas")

    def half_written(out_dir, **kwargs):
        (out_dir / kwargs["split"] / "images").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(canvas_mod, "make_canvas_dataset", half_written)
    with pytest.raises(KeyboardInterrupt):
        ensure_canvas(None, "val", 3, seed=0)
    leftovers = [p for p in (tmp_path / "cache" / "canvas").rglob("*") 
                 if "val" in p.name and not p.is_relative_to(path.parent)]
    assert leftovers == []  # neither a temp folder nor a half split that a later call would trust


def test_tuning_split_is_disjoint_from_the_reported_val_split():
    """canvas-det-dev exists to choose method settings; it must not share images with canvas-det."""
    from dive_bench.tasks import TASKS

    dev, val = TASKS.get("canvas-det-dev"), TASKS.get("canvas-det")
    assert (dev.split, val.split) == ("dev", "val")
    d, v = dev.load(None), val.load(None)
    assert len(d) == 50 and len(v) == 100
    val_images = {bytes(img.numpy()) for img in v.images}
    shared = sum(bytes(img.numpy()) in val_images for img in d.images)
    # the splits are drawn from different streams; a one-object canvas can still recur by chance
    # (dev 25 and val 75 are the same triangle at the same box), so a handful is allowed, not a copy
    assert shared <= 2


def test_sized_tasks_fix_the_size_per_class_and_keep_dev_apart_from_val():
    from dive_bench.tasks import TASKS

    dev, val = TASKS.get("canvas-det-sized-dev").load(None), TASKS.get("canvas-det-sized").load(None)
    sizes = TASKS.get("canvas-det-sized").class_sizes
    boxes = [(a["category_id"], a["bbox"][2:]) for anns in val.annotations for a in anns]
    assert len(boxes) > 150 and all(wh == [2 * sizes[c - 1][0], 2 * sizes[c - 1][1]] for c, wh in boxes)
    val_images = {bytes(img.numpy()) for img in val.images}
    assert sum(bytes(img.numpy()) in val_images for img in dev.images) <= 2
