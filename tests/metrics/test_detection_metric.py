"""COCO AP through pycocotools: the external golden case, the silent traps, and the bootstrap."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dive_bench.data.canvas import load_canvas
from dive_bench.errors import DiveBenchError
from dive_bench.metrics.coco import (STAT_NAMES, bootstrap_ap, coco_ap, read_detections, resample_images,
                                               xywh_to_xyxy, xyxy_to_xywh)

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "coco-val2014-100"  # a copy of shared/fixtures
# Published with the cocoapi fake results; see the fixture's README.md.
GOLDEN = dict(zip(STAT_NAMES, (
    0.5045806987249628, 0.6969727247299577, 0.5729816669904824, 0.5856257209410443, 0.5193996948036719,
    0.5013978986347466, 0.38681277964578054, 0.5936795762842003, 0.595352982877607, 0.6398109626113442,
    0.5664205978994309, 0.5642905982905982)))


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"golden fixture {FIXTURE} missing from the checkout")
def test_golden_cocoapi_fake_results(capsys):
    detections = read_detections(FIXTURE / "fakebbox100_results.json")
    before = copy.deepcopy(detections)
    stats = coco_ap(FIXTURE / "instances_val2014_100.json", detections)
    assert set(stats) == set(STAT_NAMES)
    for name, expected in GOLDEN.items():
        assert stats[name] == pytest.approx(expected, abs=1e-12), name
    assert detections == before  # loadRes got a copy
    assert capsys.readouterr().out == ""  # pycocotools' prints silenced
    gt = json.loads((FIXTURE / "instances_val2014_100.json").read_text())
    assert coco_ap(gt, detections)["ap"] == pytest.approx(GOLDEN["ap"], abs=1e-12)  # dict input too


@pytest.fixture(scope="module")
def sparse_canvas(tmp_path_factory):
    """12 val canvases with 0 to 3 objects, so some images are empty (inversion/test_layout.py's
    ``canvas`` has 1 to 3 objects on every image: another data set, hence another name)."""
    return load_canvas(tmp_path_factory.mktemp("cache"), "val", 12, seed=0, min_objects=0, max_objects=3)


def _perfect(ds, score=1.0):
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": list(a["bbox"]), "score": score}
            for anns in ds.annotations for a in anns]


def test_perfect_detections_score_one_and_unused_slices_are_minus_one(sparse_canvas):
    assert any(not anns for anns in sparse_canvas.annotations)  # some images have no objects
    stats = coco_ap(sparse_canvas, _perfect(sparse_canvas))
    assert stats["ap"] == stats["ap50"] == stats["ap75"] == stats["aps"] == stats["ar100"] == 1.0
    # Every canvas object is < 32^2 px: no medium/large ground truth, so those slices are -1.
    assert stats["apm"] == stats["apl"] == stats["arm"] == stats["arl"] == -1.0
    assert coco_ap(sparse_canvas.coco_json, _perfect(sparse_canvas)) == stats  # same GT via the json path


def test_empty_detections_score_zero_without_error(sparse_canvas):
    stats = coco_ap(sparse_canvas, [])
    assert stats["ap"] == stats["ap50"] == stats["ar100"] == 0.0 and stats["apm"] == -1.0


def test_ground_truth_without_objects():
    gt = {"images": [{"id": 1, "width": 8, "height": 8}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}
    assert set(coco_ap(gt, []).values()) == {-1.0}
    det = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 0.5}]
    assert coco_ap(gt, det)["ap"] == -1.0


def test_false_positive_on_an_empty_image_lowers_ap(sparse_canvas):
    empty_id = next(i for i, anns in zip(sparse_canvas.image_ids, sparse_canvas.annotations) if not anns)
    fp = {"image_id": empty_id, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 2.0}
    assert coco_ap(sparse_canvas, _perfect(sparse_canvas) + [fp])["ap"] < 1.0
    assert coco_ap(sparse_canvas, _perfect(sparse_canvas) + [{**fp, "score": 0.5}])["ap"] == 1.0  # ranked last: harmless


@pytest.mark.parametrize("edit,match", [
    (dict(category_id=99), "category_id 99 is not a ground-truth category"),
    (dict(image_id=12345), "image_id 12345 is not in the ground truth"),
    (dict(bbox=[1, 2, 3]), "4 finite numbers"),
    (dict(bbox=[10, 10, -4, 2]), "negative width"),
    (dict(score=float("nan")), "score"),
    (dict(category_id=True), "category_id True"),
])
def test_bad_detections_raise_instead_of_being_ignored(sparse_canvas, edit, match):
    dets = _perfect(sparse_canvas)
    dets[0] = {**dets[0], **edit}
    with pytest.raises(DiveBenchError, match=match):
        coco_ap(sparse_canvas, dets)


def test_numpy_and_tensor_values_are_accepted(sparse_canvas):
    dets = [{"image_id": np.int64(d["image_id"]), "category_id": d["category_id"],
             "bbox": torch.tensor(d["bbox"], dtype=torch.float64), "score": np.float32(0.9)} for d in _perfect(sparse_canvas)]
    assert coco_ap(sparse_canvas, dets)["ap"] == 1.0


def test_xyxy_helpers_and_the_silent_trap(sparse_canvas):
    assert xyxy_to_xywh([2, 4, 10, 6]) == [2.0, 4.0, 8.0, 2.0]
    assert xywh_to_xyxy([2, 4, 8, 2]) == [2.0, 4.0, 10.0, 6.0]
    arr = np.array([[2, 4, 10, 6], [0, 0, 1, 1]], dtype=float)
    assert xyxy_to_xywh(arr).tolist() == [[2, 4, 8, 2], [0, 0, 1, 1]]
    assert xyxy_to_xywh(torch.tensor(arr)).tolist() == [[2, 4, 8, 2], [0, 0, 1, 1]]
    with pytest.raises(DiveBenchError, match="already"):
        xyxy_to_xywh([10, 10, 4, 4])
    xyxy = [{**d, "bbox": xywh_to_xyxy(d["bbox"])} for d in _perfect(sparse_canvas)]
    assert coco_ap(sparse_canvas, xyxy)["ap"] < 0.5  # xyxy read as xywh: no error, just a bad score
    fixed = [{**d, "bbox": xyxy_to_xywh(d["bbox"])} for d in xyxy]
    assert coco_ap(sparse_canvas, fixed)["ap"] == 1.0


def test_resample_gives_each_copy_its_own_ids(sparse_canvas):
    gt = sparse_canvas.to_coco()
    dets = _perfect(sparse_canvas)
    first = next(k for k, anns in enumerate(sparse_canvas.annotations) if len(anns) >= 2)
    sample_gt, sample_dets = resample_images(gt, dets, [first, first, first])
    assert [img["id"] for img in sample_gt["images"]] == [1, 2, 3]
    n = len(sparse_canvas.annotations[first])
    assert [a["id"] for a in sample_gt["annotations"]] == list(range(1, 3 * n + 1))
    assert sorted(d["image_id"] for d in sample_dets) == sorted([1, 2, 3] * n)
    assert gt == sparse_canvas.to_coco()  # input untouched


def test_duplicate_copies_are_counted_not_collapsed():
    # Image 1: one object found. Image 2: two objects, one found with a higher score.
    gt = {"images": [{"id": 10}, {"id": 20}],
          "annotations": [{"id": 1, "image_id": 10, "category_id": 1, "bbox": [0, 0, 10, 10]},
                          {"id": 2, "image_id": 20, "category_id": 1, "bbox": [0, 0, 10, 10]},
                          {"id": 3, "image_id": 20, "category_id": 1, "bbox": [20, 20, 10, 10]}],
          "categories": [{"id": 1, "name": "a"}]}
    dets = [{"image_id": 10, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.5},
            {"image_id": 20, "category_id": 1, "bbox": [0, 0, 10, 10], "score": 0.9}]
    assert coco_ap(gt, dets)["ar100"] == pytest.approx(2 / 3)
    # Two copies of image 20 + one of image 10 = 5 objects, 3 found: each copy counts in full.
    sample_gt, sample_dets = resample_images(gt, dets, [1, 1, 0])
    assert coco_ap(sample_gt, sample_dets)["ar100"] == pytest.approx(3 / 5)
    sample_gt, sample_dets = resample_images(gt, dets, [0, 0])
    assert coco_ap(sample_gt, sample_dets)["ap"] == 1.0


def test_bootstrap_of_perfect_detections_is_degenerate(sparse_canvas):
    ci = bootstrap_ap(sparse_canvas, _perfect(sparse_canvas), n_boot=15, seed=0)
    assert ci == {"ap": (1.0, 1.0), "ap50": (1.0, 1.0), "ap75": (1.0, 1.0)}


def test_bootstrap_interval_contains_point_and_is_seeded(sparse_canvas):
    rng = np.random.default_rng(0)
    dets = []
    for d in _perfect(sparse_canvas):
        x, y, w, h = d["bbox"]
        shift = float(rng.choice([0, 0, 2, 4]))  # some boxes off by a few px
        dets.append({**d, "bbox": [x + shift, y, w, h], "score": float(rng.random())})
    dets.append({"image_id": sparse_canvas.image_ids[0], "category_id": 2, "bbox": [0, 0, 8, 8], "score": 0.7})
    point = coco_ap(sparse_canvas, dets)
    ci = bootstrap_ap(sparse_canvas, dets, n_boot=40, seed=1, stats=("ap", "ap50", "apm"))
    for name in ("ap", "ap50"):
        lo, hi = ci[name]
        assert lo <= point[name] <= hi and lo < hi, (name, ci[name], point[name])
    assert ci["apm"] == (-1.0, -1.0)
    assert bootstrap_ap(sparse_canvas, dets, n_boot=40, seed=1, stats=("ap", "ap50", "apm")) == ci
    with pytest.raises(DiveBenchError, match="unknown stat"):
        bootstrap_ap(sparse_canvas, dets, n_boot=2, stats=("map",))


def test_stored_targets_give_the_golden_ap_in_each_images_own_pixels():
    """check pairs detection runs from run.json alone: targets scored in a resized frame (a coco:
    task with size=N) carry the image's own boxes, and predictions are scaled back, so the stats
    are the published ones, not those of the stretched frame."""
    from dive_bench.metrics.coco import detections_of, ground_truth_of

    gt = json.loads((FIXTURE / "instances_val2014_100.json").read_text())
    results = read_detections(FIXTURE / "fakebbox100_results.json")
    frame = 32
    targets, predictions = [], []
    for img in gt["images"]:
        sx, sy = frame / img["width"], frame / img["height"]
        anns = [a for a in gt["annotations"] if a["image_id"] == img["id"]]
        stretched = [{**a, "bbox": [a["bbox"][0] * sx, a["bbox"][1] * sy, a["bbox"][2] * sx, a["bbox"][3] * sy]}
                     for a in anns]
        targets.append({"image_id": img["id"], "annotations": stretched, "category_ids": [c["id"] for c in gt["categories"]],
                        "original": {"width": img["width"], "height": img["height"], "frame": [frame, frame],
                                     "annotations": anns}})
        predictions.append([{k: v for k, v in {**d, "bbox": [d["bbox"][0] * sx, d["bbox"][1] * sy, d["bbox"][2] * sx,
                                                                d["bbox"][3] * sy]}.items() if k != "image_id"}
                            for d in results if d["image_id"] == img["id"]])
    stats = coco_ap(ground_truth_of(targets, predictions), detections_of(predictions, targets))
    for name in ("ap", "ap50", "ap75", "aps", "apm", "apl"):
        assert stats[name] == pytest.approx(GOLDEN[name], abs=1e-9), name
