"""Hostile ``--task coco:JSON:IMAGES[:IDS][:size=N]`` inputs: category tables that name other
classes than their ids say, jsons without boxes, absurd sizes, options that look like files,
malformed entries and images whose header lies."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from cli_checks import api_error, cli_error
from dive_bench.adapters import load_model
from dive_bench.tasks import TASKS

#: layout-canvas-s's categories
CATEGORIES = [{"id": 1, "name": "square"}, {"id": 2, "name": "disk"}, {"id": 3, "name": "triangle"}]


@pytest.fixture(scope="module")
def layout_model():
    return load_model("layout-canvas-s")


def write_set(root: Path, *, categories=None, annotations=None, n: int = 2, size=(32, 32), raw: str | None = None):
    """A coco: set of ``n`` blank images, one square box each unless ``annotations`` is given."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    gt = {"images": [], "annotations": [], "categories": CATEGORIES if categories is None else categories}
    for i in range(1, n + 1):
        Image.new("RGB", size).save(images / f"{i}.png")
        gt["images"].append({"id": i, "file_name": f"{i}.png", "width": size[0], "height": size[1]})
        gt["annotations"].append({"id": i, "image_id": i, "category_id": 1, "bbox": [2, 2, 8, 8], "area": 64,
                                  "iscrowd": 0})
    if annotations is not None:
        gt["annotations"] = annotations
    path = root / "instances.json"
    path.write_text(raw if raw is not None else json.dumps(gt))
    return path, images


def test_permuted_category_names_are_refused(tmp_path, layout_model):
    """Ids 1, 2, 3 named disk, triangle, square: an id check passed it and scored every box
    against the wrong class. Names are matched; ids that disagree with them are refused."""
    permuted = [{"id": 1, "name": "disk"}, {"id": 2, "name": "triangle"}, {"id": 3, "name": "square"}]
    json_path, images = write_set(tmp_path, categories=permuted)
    task = TASKS.get(f"coco:{json_path}:{images}")
    err = api_error(task.check_compatible, layout_model, task.load())
    assert "number the categories differently ('disk' is id 1 in the json, 2 in the model" in err
    assert "renumber the json's categories and annotations to the model's ids (square=1, disk=2, triangle=3)" in err


def test_unknown_category_names_are_named(tmp_path, layout_model):
    cats = [{"id": 1, "name": "square"}, {"id": 2, "name": "disk"}, {"id": 3, "name": "kite"}]
    json_path, images = write_set(tmp_path, categories=cats)
    task = TASKS.get(f"coco:{json_path}:{images}")
    err = api_error(task.check_compatible, layout_model, task.load())
    assert "has categories model 'layout-canvas-s' does not know: 'kite'" in err


def test_matching_table_is_accepted(tmp_path, layout_model):
    json_path, images = write_set(tmp_path)
    task = TASKS.get(f"coco:{json_path}:{images}")
    task.check_compatible(layout_model, task.load())


def test_json_without_annotations_is_refused(tmp_path, capsys):
    json_path, images = write_set(tmp_path, annotations=[])
    err = cli_error(capsys, ["score", "layout-canvas-s", "--task", f"coco:{json_path}:{images}",
                             "--out", str(tmp_path / "out"), "--quiet"])
    assert "has no annotations, so box AP is undefined (pycocotools would report -1)" in err
    assert not (tmp_path / "out" / "run.json").exists()


def test_subset_without_annotations_is_refused(tmp_path):
    ann = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 8, 8], "area": 64, "iscrowd": 0}]
    json_path, images = write_set(tmp_path, annotations=ann)
    (tmp_path / "ids.txt").write_text("2\n")
    err = api_error(TASKS.get, f"coco:{json_path}:{images}:{tmp_path / 'ids.txt'}")
    assert "has no annotations on the 1 selected image(s)" in err


def test_metric_without_ground_truth_is_never_minus_one(tmp_path):
    """--limit can select images without boxes after the task was accepted: AP -1 is refused."""
    json_path, images = write_set(tmp_path)
    task = TASKS.get(f"coco:{json_path}:{images}")
    targets = [{"image_id": 1, "annotations": [], "category_ids": [1, 2, 3]}]
    err = api_error(task.metrics, [[]], targets)
    assert "hold no ground-truth boxes, so box AP is undefined" in err


def test_huge_size_is_refused_before_any_allocation(tmp_path):
    json_path, images = write_set(tmp_path)
    start = time.perf_counter()
    err = api_error(TASKS.get, f"coco:{json_path}:{images}:size=100000")
    assert "size must be from 1 to 1024" in err and time.perf_counter() - start < 1.0


@pytest.mark.parametrize("option, phrase", [
    ("size=abc", "size 'abc' is not a whole number; write size=N"),
    ("size=²", "holds non-ASCII characters"),
    ("size=" + "9" * 5000, "has more than 9 digits"),
    ("sise=32", "unknown option 'sise'; the options are size"),
    ("size=32:size=32", "option 'size' is given twice"),
])
def test_options_are_parsed_strictly(tmp_path, option, phrase):
    json_path, images = write_set(tmp_path)
    err = api_error(TASKS.get, f"coco:{json_path}:{images}:{option}")
    assert phrase in err and len(err) < 500


@pytest.mark.parametrize("raw, phrase", [
    ("[]", "is a list, which looks like detection results"),
    ('{"images": [], "annotations": [], "categories": [{"id": "1", "name": "square"}]}', "needs an integer 'id'"),
    ('{"images": [{"id": ' + "1" * 5000 + ', "file_name": "1.png", "width": 32, "height": 32}], "annotations": [], '
     '"categories": []}', "is not valid JSON"),
    ("[" * 100000 + "]" * 100000, "is not valid JSON"),
])
def test_malformed_json(tmp_path, raw, phrase):
    json_path, images = write_set(tmp_path, raw=raw)
    assert phrase in api_error(TASKS.get, f"coco:{json_path}:{images}")


@pytest.mark.parametrize("bbox, phrase", [
    ([2, 2, -8, 8], "has a negative width or height"),
    ([2, 2, float("nan"), 8], "bbox must be 4 finite numbers"),
    ([2, 2, 8], "bbox must be 4 finite numbers"),
])
def test_bad_boxes(tmp_path, bbox, phrase):
    ann = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": bbox, "area": 64, "iscrowd": 0}]
    json_path, images = write_set(tmp_path, annotations=ann)
    assert phrase in api_error(TASKS.get, f"coco:{json_path}:{images}")


def test_subset_ids_file_from_excel_and_bad_ids(tmp_path):
    json_path, images = write_set(tmp_path, n=3)
    ids = tmp_path / "ids.txt"
    ids.write_bytes("\ufeff2\r\n1\r\n".encode())
    assert TASKS.get(f"coco:{json_path}:{images}:{ids}").subset_ids == (2, 1)
    for word, phrase in (("²", "holds non-ASCII characters"), ("1" * 5000, "has more than 18 digits")):
        ids.write_text(f"1\n{word}\n", encoding="utf-8")
        err = api_error(TASKS.get, f"coco:{json_path}:{images}:{ids}")
        assert phrase in err and "line 2" in err and len(err) < 500


def test_decompression_bomb_image_is_refused_before_decoding(tmp_path):
    json_path, images = write_set(tmp_path, n=1, size=(6000, 6000))
    Image.new("1", (6000, 6000)).save(images / "1.png")
    task = TASKS.get(f"coco:{json_path}:{images}:size=32")
    assert "is 6000x6000 pixels, more than the 16,777,216 dive_bench decodes" in api_error(task.load)


def test_image_whose_size_disagrees_with_the_json(tmp_path):
    json_path, images = write_set(tmp_path, n=1)
    Image.new("RGB", (16, 16)).save(images / "1.png")
    task = TASKS.get(f"coco:{json_path}:{images}")
    assert "is 16x16 but the json says 32x32" in api_error(task.load)
