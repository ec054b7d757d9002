"""A user's own test set from a path: ``--task folder:DIR`` and ``--task coco:JSON:IMAGES[:IDS][:size=N]``.

The folder task must score the digits images written as PNG exactly as the built-in digits task
does; its name (and so the run key) depends on the files' content, not their place; the COCO task
must reproduce the published AP of the golden fixture through its own conversions; and every bad
input ends in one line and exit 2. Runs go through ``cli.main`` in-process, with a light protocol.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dive_bench.cli.main import main
from dive_bench.data.image_folder import list_image_folder
from dive_bench.errors import DiveBenchError
from dive_bench.registry import Registry
from dive_bench.store.shards import collect
from dive_bench.tasks import TASKS
from fast_runs import ENUMERATE_COARSE

# the copy committed in tests/data, else the shared one beside the clone
FIXTURE = next((p for p in (Path(__file__).resolve().parents[1] / "data" / "coco-val2014-100",
                            Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "coco-val2014-100")
                if p.is_dir()), Path(__file__).resolve().parents[1] / "data" / "coco-val2014-100")
# published with cocoapi's fake results (fixture README), in COCOeval order
EXPECTED = {"ap": 0.5045806987249628, "ap50": 0.6969727247299577, "ap75": 0.5729816669904824,
            "aps": 0.5856257209410443, "apm": 0.5193996948036719, "apl": 0.5013978986347466,
            "ar1": 0.38681277964578054, "ar10": 0.5936795762842003, "ar100": 0.595352982877607}
# one image per block and one image's 10 classes x 10 probes per forward pass: the batches of a
# folder run and a digits run hold the same numbers, whatever the item order
ENUMERATE_ONE_PER_BLOCK = [*ENUMERATE_COARSE, "--items-per-batch", "1", "--eval-batch", "100", "--quiet"]
N = 40


@pytest.fixture(scope="module")
def digits():
    return TASKS.get("digits").load()


def write_digits(root: Path, data, n: int = N, *, flat: bool = False) -> Path:
    """The first ``n`` digits test images as 8-bit grayscale PNGs: DIR/<class>/<index>.png, or
    flat DIR/<index>.png with a labels.csv (with a header line)."""
    root.mkdir(parents=True)
    lines = ["path,label"]
    for i in range(n):
        label = int(data.labels[i])
        rel = f"{i:03d}.png" if flat else f"{label}/{i:03d}.png"
        (root / rel).parent.mkdir(exist_ok=True)
        Image.fromarray(data.images[i, 0].numpy(), mode="L").save(root / rel)
        lines.append(f"{rel},{label}")
    if flat:
        (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def score(task: str, out: Path, *extra: str) -> dict:
    assert main(["score", "dit-digits-xs", "--task", task, "--out", str(out), *ENUMERATE_ONE_PER_BLOCK, *extra]) == 0
    return json.loads((out / "run.json").read_text())


def per_item(out: Path) -> dict[int, tuple[int, list]]:
    """item id -> (prediction, class scores) as stored in the shards."""
    return {i: (r["prediction"], r["scores"]) for i, (r, _) in collect(out).results.items()}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dive-bench: error: "), err
    return err[0]


# -- the registry's prefix hook ------------------------------------------------------------------


def test_registry_prefix_factory():
    reg: Registry = Registry("task")
    reg.register("digits", object())
    reg.register_prefix("folder", lambda rest: ("built", rest), usage="folder:DIR")
    reg.register_prefix("lazy", "os.path:basename", usage="lazy:PATH")
    assert reg.get("folder:/a:b") == ("built", "/a:b")
    assert reg.get("lazy:/x/y.png") == "y.png"
    assert "folder:/anything" in reg and "digits" in reg and "folder" not in reg and "nope:x" not in reg
    assert reg.prefixes() == {"folder:DIR": "", "lazy:PATH": ""}
    assert reg.names() == ["digits"]  # prefixes are forms, not names: listing them must not build them
    with pytest.raises(DiveBenchError, match=r"Did you mean 'folder:'\?.*Known: digits; or folder:DIR, lazy:PATH\."):
        reg.get("foldr:/data")
    with pytest.raises(ValueError, match="already registered"):
        reg.register_prefix("folder", lambda rest: None)
    with pytest.raises(ValueError, match="hold no ':'"):
        reg.register_prefix("a:b", lambda rest: None)


# -- folder: ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_folder_scores_like_the_builtin_task(tmp_path, digits):
    """Acceptance 1: the digits images as PNG class folders give the digits task's accuracy and,
    image by image, its predictions and class scores (bit for bit); merge rebuilds the metrics
    from the stored name alone; a labels.csv of the same images orders them like digits."""
    root = write_digits(tmp_path / "mine", digits)
    ref = score("digits", tmp_path / "ref", "--limit", str(N))
    run = score(f"folder:{root}", tmp_path / "folder")
    assert run["task"].startswith("folder:sha256=") and str(tmp_path) not in json.dumps(run["task"])
    assert run["metrics"]["accuracy"] == ref["metrics"]["accuracy"] and run["n_items"] == N
    # folder items are ordered by class folder, then file name; the file name is the digits index
    files = list_image_folder(root).files
    index = [int(Path(f).stem) for f in files]
    assert [int(Path(f).parent.name) for f in files] == [int(digits.labels[i]) for i in index]
    mine, theirs = per_item(tmp_path / "folder"), per_item(tmp_path / "ref")
    assert {index[k]: v for k, v in mine.items()} == theirs
    assert run["items"]["labels"] == [int(digits.labels[i]) for i in index]

    # merge in a fresh lookup: the stored name is a hash, the task is rebuilt without its files
    (tmp_path / "folder" / "run.json").unlink()
    assert main(["merge", str(tmp_path / "folder")]) == 0
    merged = json.loads((tmp_path / "folder" / "run.json").read_text())
    assert merged["metrics"] == run["metrics"] and merged["run_key"] == run["run_key"]
    with pytest.raises(DiveBenchError, match="rebuilt from a stored run"):
        TASKS.get(run["task"]).load()

    flat = score(f"folder:{write_digits(tmp_path / 'flat', digits, flat=True)}", tmp_path / "flat-run")
    assert flat["items"]["predictions"] == ref["items"]["predictions"]
    assert flat["metrics"]["accuracy"] == ref["metrics"]["accuracy"]


def test_same_files_elsewhere_same_run_key(tmp_path, digits):
    """Acceptance 3: the run key hashes the task name, which hashes the items' content only."""
    a = write_digits(tmp_path / "alice" / "test", digits, n=20)  # two images per class
    b = tmp_path / "bob" / "elsewhere" / "set"
    shutil.copytree(a, b)
    ra = score(f"folder:{a}", tmp_path / "ra", "--limit", "2")
    rb = score(f"folder:{b}", tmp_path / "rb", "--limit", "2")
    assert ra["task"] == rb["task"] and ra["run_key"] == rb["run_key"]
    assert TASKS.get(f"folder:{a}").name == TASKS.get(f"folder:{b}/").name == ra["task"]
    # one changed pixel, or one image moved to another class, is another task
    img = np.array(Image.open(b / "0" / "000.png"))
    img[0, 0] ^= 1
    Image.fromarray(img, mode="L").save(b / "0" / "000.png")
    assert TASKS.get(f"folder:{b}").name != ra["task"]
    shutil.move(a / "0" / "000.png", a / "1" / "000.png")
    assert TASKS.get(f"folder:{a}").name != ra["task"]


def test_folder_reads_pixels_as_stored(tmp_path, digits):
    root = write_digits(tmp_path / "d", digits, n=12)
    task = TASKS.get(f"folder:{root}")
    data = task.load()
    files = list_image_folder(root).files
    index = [int(Path(f).stem) for f in files]
    assert data.images.shape == (12, 1, 8, 8) and data.images.dtype.is_floating_point is False
    assert (data.images.numpy() == digits.images[index].numpy()).all()
    assert data.labels.tolist() == [int(digits.labels[i]) for i in index]
    assert task.version == "1" and task.num_items == 12
    # RGB files give three channels, at their own size (no resize)
    rgb = tmp_path / "rgb"
    for c in range(2):
        (rgb / f"c{c}").mkdir(parents=True)
        Image.new("RGB", (5, 3), (c, 2, 3)).save(rgb / f"c{c}" / "x.png")
    assert TASKS.get(f"folder:{rgb}").load().images.shape == (2, 3, 3, 5)


def _mixed_sizes(root: Path) -> None:
    for c, size in enumerate(((8, 8), (9, 8))):
        (root / str(c)).mkdir(parents=True)
        Image.new("L", size).save(root / str(c) / "a.png")


def _mixed_modes(root: Path) -> None:
    for c, mode in enumerate(("L", "RGB")):
        (root / str(c)).mkdir(parents=True)
        Image.new(mode, (8, 8)).save(root / str(c) / "a.png")


def _empty_class(root: Path) -> None:
    (root / "0").mkdir(parents=True)
    Image.new("L", (8, 8)).save(root / "0" / "a.png")
    (root / "1").mkdir()
    (root / "1" / "notes.txt").write_text("no images here")


def _numeric_order(root: Path) -> None:
    for c in range(12):
        (root / str(c)).mkdir(parents=True)
        Image.new("L", (8, 8)).save(root / str(c) / "a.png")


def _nine_classes(root: Path) -> None:
    for c in range(9):
        (root / str(c)).mkdir(parents=True)
        Image.new("L", (8, 8)).save(root / str(c) / "a.png")


def _rgb(root: Path) -> None:
    for c in range(10):
        (root / str(c)).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(root / str(c) / "a.png")


def _bad_label(root: Path) -> None:
    root.mkdir(parents=True)
    Image.new("L", (8, 8)).save(root / "a.png")
    (root / "labels.csv").write_text("path,label\na.png,3\nb.png,x\n")


def _missing_listed(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "labels.txt").write_text("gone.png,1\n")


def _not_an_image(root: Path) -> None:
    (root / "0").mkdir(parents=True)
    (root / "0" / "a.png").write_bytes(b"not a png")


def _flat_images(root: Path) -> None:
    root.mkdir(parents=True)
    Image.new("L", (8, 8)).save(root / "a.png")


FOLDER_CASES = [
    ("missing-dir", None, "does not exist"),
    ("empty-dir", lambda r: r.mkdir(), "has no class sub-folders"),
    ("flat-without-labels", _flat_images, "put them in class sub-folders"),
    ("class-without-images", _empty_class, "has no image files"),
    ("mixed-sizes", _mixed_sizes, "have different sizes: 0/a.png is 8x8, 1/a.png is 9x8"),
    ("mixed-modes", _mixed_modes, "mix grayscale and RGB"),
    ("numeric-order", _numeric_order, "sort one way as text and another by their numbers (class id 2 would be '10'"),
    ("nine-classes", _nine_classes, "has 9 class folders (0, 1, 2, 3, 4, ...) but model 'dit-digits-xs' has 10"),
    ("rgb-for-gray-model", _rgb, "images have 3 channel(s) (RGB) but model 'dit-digits-xs' takes 1 (grayscale); convert"),
    ("labels-not-int", _bad_label, "labels.csv line 3: class id 'x' is not a whole number"),
    ("labels-missing-file", _missing_listed, "gone.png does not exist"),
    ("not-an-image", _not_an_image, "is truncated or not a readable image"),
]


@pytest.mark.parametrize("make, phrase", [c[1:] for c in FOLDER_CASES], ids=[c[0] for c in FOLDER_CASES])
def test_bad_folder_is_one_line_exit_2(tmp_path, capsys, make, phrase):
    """Acceptance 4 (folder): exit 2, one line naming the problem, nothing stored."""
    root = tmp_path / "set"
    if make:
        make(root)
    rc = main(["score", "dit-digits-xs", "--task", f"folder:{root}", "--out", str(tmp_path / "out"), *ENUMERATE_ONE_PER_BLOCK])
    assert rc == 2
    assert phrase in one_error_line(capsys)
    assert not (tmp_path / "out" / "run.json").exists()


# -- coco: ----------------------------------------------------------------------------------------


def placeholder_images(gt: dict, folder: Path) -> Path:
    """Blank images named and sized as the json says (the loader checks both; the fixture ships
    no pixels, and the metric never looks at them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for img in gt["images"]:
        Image.new("RGB", (img["width"], img["height"]), (img["id"] % 256, 0, 0)).save(folder / img["file_name"])
    return folder


@pytest.fixture(scope="module")
def coco_fixture(tmp_path_factory):
    if not (FIXTURE / "instances_val2014_100.json").is_file():
        pytest.skip(f"golden COCO fixture not found at {FIXTURE} (nor in shared/fixtures beside the clone)")
    gt = json.loads((FIXTURE / "instances_val2014_100.json").read_text())
    return FIXTURE / "instances_val2014_100.json", placeholder_images(gt, tmp_path_factory.mktemp("coco") / "images")


def test_coco_fixture_reproduces_published_ap(coco_fixture, tmp_path):
    """Acceptance 2: 100 items; the published detections, handed to the task as a model's
    answers in its 32 x 32 frame, score the published COCO stats through the task's own
    ground truth and box conversion: AP is computed in each image's own pixels."""
    json_path, images = coco_fixture
    with pytest.raises(DiveBenchError, match=r"have 50 sizes .*add :size=N"):
        TASKS.get(f"coco:{json_path}:{images}")
    task = TASKS.get(f"coco:{json_path}:{images}:size=32")
    assert task.name.startswith("coco:sha256=") and task.num_images == 100
    data = task.load()
    assert len(data) == 100 and tuple(data.images.shape[1:]) == (3, 32, 32)
    targets = [task.target(data, i) for i in range(len(data))]
    assert all(t["original"]["frame"] == [32, 32] for t in targets)
    json.dumps(targets)  # stored per item in the shards

    dets = json.loads((FIXTURE / "fakebbox100_results.json").read_text())
    predictions = []
    for t in targets:  # the fixture's boxes -> this image's 32 x 32 frame, as a model would answer
        o = t["original"]
        sx, sy = 32 / o["width"], 32 / o["height"]
        predictions.append([{"category_id": d["category_id"], "score": d["score"],
                             "bbox": [d["bbox"][0] * sx, d["bbox"][1] * sy, d["bbox"][2] * sx, d["bbox"][3] * sy]}
                            for d in dets if d["image_id"] == t["image_id"]])
    metrics = dataclasses.replace(task, n_boot=2).metrics(predictions, targets)  # 200 replicates: minutes
    assert {k: metrics[k]["value"] for k in EXPECTED} == pytest.approx(EXPECTED, abs=1e-12)
    assert metrics["ap"]["n"] == 100 and metrics["ap"]["ci_low"] <= metrics["ap"]["ci_high"]
    # a task rebuilt from the stored name (merge, check) has no files and the same numbers
    stub = TASKS.get(task.name)
    assert stub.ground_truth(targets)["annotations"] == task.ground_truth(targets)["annotations"]
    assert dataclasses.replace(stub, n_boot=2).metrics(predictions, targets) == metrics
    with pytest.raises(DiveBenchError, match="rebuilt from a stored run"):
        stub.load()

    # the same images and boxes from a json holding only 10 of them, or a subset file: one name
    ids = [t["image_id"] for t in targets[:10]]
    (tmp_path / "ids.txt").write_text("# ten images\n" + "\n".join(map(str, ids)) + "\n")
    by_ids = TASKS.get(f"coco:{json_path}:{images}:{tmp_path / 'ids.txt'}:size=32")
    gt = json.loads(json_path.read_text())
    keep = set(ids)
    small = {**gt, "images": [i for i in gt["images"] if i["id"] in keep],
             "annotations": [a for a in gt["annotations"] if a["image_id"] in keep]}
    small["images"].sort(key=lambda i: ids.index(i["id"]))
    (tmp_path / "small.json").write_text(json.dumps(small))
    trimmed = TASKS.get(f"coco:{tmp_path / 'small.json'}:{images}:size=32")
    assert by_ids.num_images == 10 and by_ids.name == trimmed.name != task.name


@pytest.fixture(scope="module")
def canvas_as_coco():
    """The canvas-det val set is written as a COCO json + images folder: a coco: task of it."""
    data = TASKS.get("canvas-det").load()
    return Path(data.coco_json), Path(data.coco_json).parent / "images"


@pytest.mark.slow
def test_coco_task_scores_and_merges(tmp_path, canvas_as_coco):
    """A coco: run of a layout model gives canvas-det's predictions and metrics on the same images
    (a cheap DIVE protocol), and merge rebuilds them from the stored targets."""
    json_path, images = canvas_as_coco
    cheap = ["--limit", "2", "--steps", "2", "--init", "none", "--no-prior", "--no-neighbour-repairs",
             "--items-per-batch", "1", "--quiet"]
    runs = {}
    for task, out in ((f"coco:{json_path}:{images}", tmp_path / "coco"), ("canvas-det", tmp_path / "canvas")):
        assert main(["score", "layout-canvas-s", "--task", task, "--out", str(out), *cheap]) == 0
        runs[task] = json.loads((out / "run.json").read_text())
    coco, canvas = runs.values()
    assert coco["task"].startswith("coco:sha256=")
    assert coco["items"]["predictions"] == canvas["items"]["predictions"]
    assert coco["metrics"] == canvas["metrics"]
    assert [t["annotations"] for t in coco["items"]["labels"]] == [t["annotations"] for t in canvas["items"]["labels"]]
    (tmp_path / "coco" / "run.json").unlink()
    assert main(["merge", str(tmp_path / "coco")]) == 0
    assert json.loads((tmp_path / "coco" / "run.json").read_text())["metrics"] == coco["metrics"]


def _coco_json(tmp_path: Path, categories: list[dict], images: Path) -> Path:
    images.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32)).save(images / "a.png")
    gt = {"images": [{"id": 7, "file_name": "a.png", "width": 32, "height": 32}],
          "annotations": [{"id": 1, "image_id": 7, "category_id": categories[0]["id"], "bbox": [2, 2, 8, 8],
                           "area": 64, "iscrowd": 0}],
          "categories": categories}
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(gt))
    return path


COCO_CASES = [
    ("unknown-category", "{json}:{images}", "has categories model 'layout-canvas-s' does not know: 'kite'"),
    ("one-field", "{json}", "must look like coco:INSTANCES.json:IMAGES_DIR"),
    ("missing-images-dir", "{json}:{tmp}/nowhere", "does not exist or is not a folder"),
    ("missing-json", "{tmp}/none.json:{images}", "does not exist"),
    ("missing-subset-file", "{json}:{images}:{tmp}/ids.txt", "subset ids file"),
    ("unknown-subset-id", "{json}:{images}:{tmp}/bad_ids.txt", "subset ids [99] are not image ids"),
    ("bad-size", "{json}:{images}:size=0", "size must be from 1 to 1024"),
]


@pytest.mark.parametrize("spec, phrase", [c[1:] for c in COCO_CASES], ids=[c[0] for c in COCO_CASES])
def test_bad_coco_is_one_line_exit_2(tmp_path, capsys, spec, phrase):
    """Acceptance 4 (coco): a category the model does not know, bad paths or ids: exit 2, one line."""
    images = tmp_path / "images"
    cats = [{"id": 1, "name": "square"}, {"id": 2, "name": "disk"}, {"id": 5, "name": "kite"}]
    json_path = _coco_json(tmp_path, cats, images)
    (tmp_path / "bad_ids.txt").write_text("7\n99\n")
    task = "coco:" + spec.format(json=json_path, images=images, tmp=tmp_path)
    rc = main(["score", "layout-canvas-s", "--task", task, "--out", str(tmp_path / "out"), "--quiet", "--steps", "1"])
    assert rc == 2
    assert phrase in one_error_line(capsys)
    assert not (tmp_path / "out" / "run.json").exists()
