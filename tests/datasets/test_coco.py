"""COCO-format loader: tensors, subsets, resizing with boxes, and clear errors for malformed json."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from dive_bench.data.canvas import make_canvas_dataset
from dive_bench.data.coco import load_coco_detection, read_coco_json, validate_coco
from dive_bench.errors import DiveBenchError

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "coco-val2014-100"  # a copy of shared/fixtures


@pytest.fixture(scope="module")
def canvas_json(tmp_path_factory) -> Path:
    return make_canvas_dataset(tmp_path_factory.mktemp("canvas"), split="val", num_images=6, seed=0,
                               min_objects=0, max_objects=3)


def test_loads_canvas_as_tensor_with_per_image_annotations(canvas_json):
    ds = load_coco_detection(canvas_json, canvas_json.parent / "images")
    data = json.loads(canvas_json.read_text())
    assert ds.images.dtype == torch.uint8 and ds.images.shape == (6, 3, 32, 32)
    assert ds.image_ids == [1, 2, 3, 4, 5, 6] and len(ds) == 6 and ds.coco_json == canvas_json
    assert [a for anns in ds.annotations for a in anns] == data["annotations"]
    assert all(a["image_id"] == i for i, anns in zip(ds.image_ids, ds.annotations) for a in anns)
    assert ds.categories == data["categories"]
    assert ds.to_coco()["annotations"] == data["annotations"]


def test_subset_keeps_the_given_order(canvas_json):
    full = load_coco_detection(canvas_json, canvas_json.parent / "images")
    sub = load_coco_detection(canvas_json, canvas_json.parent / "images", subset_ids=[5, 2])
    assert sub.image_ids == [5, 2]
    assert torch.equal(sub.images, full.images[[4, 1]])
    assert sub.annotations == [full.annotations[4], full.annotations[1]]
    with pytest.raises(DiveBenchError, match=r"\[99\] are not image ids"):
        load_coco_detection(canvas_json, canvas_json.parent / "images", subset_ids=[1, 99])
    with pytest.raises(DiveBenchError, match="duplicates"):
        load_coco_detection(canvas_json, canvas_json.parent / "images", subset_ids=[1, 1])


def test_resize_scales_boxes_and_area(canvas_json):
    full = load_coco_detection(canvas_json, canvas_json.parent / "images")
    big = load_coco_detection(canvas_json, canvas_json.parent / "images", image_size=64)
    assert big.images.shape == (6, 3, 64, 64)
    for small_anns, big_anns in zip(full.annotations, big.annotations):
        for a, b in zip(small_anns, big_anns, strict=True):
            assert b["bbox"] == [2 * v for v in a["bbox"]] and b["area"] == 4 * a["area"]
            assert b["id"] == a["id"] and b["category_id"] == a["category_id"]
    assert big.to_coco()["images"][0] == {"id": 1, "width": 64, "height": 64}


def test_non_square_images_stretch_per_axis(tmp_path):
    from PIL import Image

    (tmp_path / "im").mkdir()
    Image.new("RGB", (40, 20)).save(tmp_path / "im" / "a.png")
    Image.new("RGB", (20, 20)).save(tmp_path / "im" / "b.png")
    gt = {"images": [{"id": 7, "width": 40, "height": 20, "file_name": "a.png"},
                     {"id": 8, "width": 20, "height": 20, "file_name": "b.png"}],
          "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 4, 20, 10], "area": 200, "iscrowd": 0}],
          "categories": [{"id": 1, "name": "thing"}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    with pytest.raises(DiveBenchError, match="different sizes.*image_size"):
        load_coco_detection(tmp_path / "gt.json", tmp_path / "im")
    ds = load_coco_detection(tmp_path / "gt.json", tmp_path / "im", image_size=10)
    assert ds.images.shape == (2, 3, 10, 10)
    assert ds.annotations[0][0]["bbox"] == [2.5, 2.0, 5.0, 5.0] and ds.annotations[1] == []


def test_missing_or_mismatched_image_files(canvas_json, tmp_path):
    with pytest.raises(DiveBenchError, match="missing; check image_dir"):
        load_coco_detection(canvas_json, tmp_path)
    data = json.loads(canvas_json.read_text())
    data["images"][0]["width"] = 33
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DiveBenchError, match="json says 33x32"):
        load_coco_detection(tmp_path / "bad.json", canvas_json.parent / "images")


def _good() -> dict:
    return {"images": [{"id": 1, "width": 10, "height": 10, "file_name": "a.png"},
                       {"id": 2, "width": 10, "height": 10, "file_name": "b.png"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0},
                            {"id": 2, "image_id": 2, "category_id": 3, "bbox": [0, 0, 2, 2], "area": 4, "iscrowd": 0}],
            "categories": [{"id": 3, "name": "c"}]}


def _mutate(edit):
    data = _good()
    edit(data)
    return data


MALFORMED = [
    ("not-a-dict", lambda: [1, 2], "looks like detection results"),
    ("no-images", lambda: _mutate(lambda d: d.pop("images")), "missing key.*'images'"),
    ("no-annotations", lambda: _mutate(lambda d: d.pop("annotations")), "missing key.*'annotations'"),
    ("no-categories", lambda: _mutate(lambda d: d.pop("categories")), "missing key.*'categories'"),
    ("ann-id-0", lambda: _mutate(lambda d: d["annotations"][0].update(id=0)), "integers >= 1"),
    ("dup-ann-id", lambda: _mutate(lambda d: d["annotations"][1].update(id=1)), "duplicate annotation id 1"),
    ("dup-image-id", lambda: _mutate(lambda d: d["images"][1].update(id=1)), "duplicate image id 1"),
    ("dup-category", lambda: _mutate(lambda d: d["categories"].append({"id": 3, "name": "x"})), "duplicate category id 3"),
    ("bbox-3", lambda: _mutate(lambda d: d["annotations"][0].update(bbox=[1, 2, 3])), "4 finite numbers"),
    ("bbox-str", lambda: _mutate(lambda d: d["annotations"][0].update(bbox=[1, 2, "3", 4])), "4 finite numbers"),
    ("bbox-nan", lambda: _mutate(lambda d: d["annotations"][0].update(bbox=[1, 2, float("nan"), 4])), "4 finite"),
    ("bbox-neg", lambda: _mutate(lambda d: d["annotations"][0].update(bbox=[5, 5, -2, 4])), "negative width.*xyxy_to_xywh"),
    ("unknown-image", lambda: _mutate(lambda d: d["annotations"][0].update(image_id=9)), "image_id 9 is not in 'images'"),
    ("unknown-cat", lambda: _mutate(lambda d: d["annotations"][0].update(category_id=1)), "category_id 1 is not in"),
    ("no-file-name", lambda: _mutate(lambda d: d["images"][0].pop("file_name")), "no 'file_name'"),
    ("bad-crowd", lambda: _mutate(lambda d: d["annotations"][0].update(iscrowd=2)), "iscrowd"),
]


@pytest.mark.parametrize("make,match", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_json_names_the_problem(tmp_path, make, match):
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(make()))
    with pytest.raises(DiveBenchError, match=match):
        load_coco_detection(path, tmp_path)


def test_not_json_and_missing_file(tmp_path):
    (tmp_path / "gt.json").write_text("{'images': []")
    with pytest.raises(DiveBenchError, match="not valid JSON"):
        read_coco_json(tmp_path / "gt.json")
    with pytest.raises(DiveBenchError, match="does not exist"):
        read_coco_json(tmp_path / "nope.json")


def test_validation_without_files_and_input_untouched():
    data = _good()
    for img in data["images"]:
        img.pop("file_name")
    before = copy.deepcopy(data)
    validate_coco(data, "dict")  # evaluation does not need file names
    assert data == before
    with pytest.raises(DiveBenchError, match="file_name"):
        validate_coco(data, "dict", need_files=True)


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f"golden fixture {FIXTURE} missing from the checkout")
def test_real_coco_subset_validates():
    data = read_coco_json(FIXTURE / "instances_val2014_100.json")
    assert len(data["images"]) == 100 and len(data["annotations"]) == 839 and len(data["categories"]) == 80
