"""report/item_images.py: the pixels of a run's items without torch, found from run.json's
item_source (or by content, for samples), with a sentence and no exception when they are absent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dive_bench.errors import DiveBenchError
from dive_bench.report.item_images import images_of, real_by_class, samples_of
from dive_bench.spec.digests import generated_name
from dive_bench.spec.result import RunResult

CONFIG = {"dtype": "fp32", "guidance_scale": 1.0, "image_shape": [1, 4, 4], "labels": "balanced", "model": "m",
          "model_sha256": "ab" * 32, "sampler": "ddim", "sampler_version": 1, "seed": 0, "steps": 5}


def _run(**payload) -> RunResult:
    return RunResult({"model": "m", "method": "dive", **payload})


def test_importing_item_images_loads_no_torch():
    code = ("import sys, dive_bench.report.item_images; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'diffusers', 'timm')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("task", ["digits", "numbers-10", "numbers-100", "numbers-1000"])
def test_builtin_items_are_the_loaders_pixels(task):
    from dive_bench.data import DATASETS

    data = DATASETS.get(task)(split="test")
    recorded = images_of(_run(task=task, item_source={"dataset": task, "split": "test"}))
    legacy = images_of(_run(task=task))  # stored before item_source: the task name's test split
    assert recorded.missing is None and legacy.missing is None and task in recorded.describe()
    for i in (0, 7, len(data) - 1):
        want = data.images[i, 0].numpy()
        assert np.array_equal(recorded.get(i), want) and np.array_equal(legacy.get(i), want)
    assert recorded.get(0).dtype == np.uint8 and recorded.get(0).ndim == 2
    with pytest.raises(DiveBenchError, match="items.ids"):
        recorded.get(len(data))


def test_fmnist_items_and_their_absence(tmp_path, monkeypatch):
    from dive_bench.data.idx import fmnist_missing

    if fmnist_missing() is None:
        from dive_bench.data.fashion_mnist import load_fashion_mnist

        data = load_fashion_mnist("test")
        images = images_of(_run(task="fmnist", item_source={"dataset": "fmnist", "split": "test"}))
        assert np.array_equal(images.get(9999), data.images[9999, 0].numpy())
        per_class = real_by_class({"spec": "fmnist", "name": "fmnist-test", "n": 10000}, 3)
        labels = data.labels.numpy()
        assert sorted(per_class) == list(range(10))
        assert np.array_equal(per_class[4][2], data.images[np.flatnonzero(labels == 4)[2], 0].numpy())
    monkeypatch.setenv("DIVE_BENCH_FMNIST_ROOT", str(tmp_path))
    absent = images_of(_run(task="fmnist"))
    assert absent.missing and str(tmp_path) in absent.missing and "apt-get install dataset-fashion-mnist" in absent.missing
    with pytest.raises(DiveBenchError, match="dataset-fashion-mnist"):
        absent.get(0)
    assert "dataset-fashion-mnist" in real_by_class({"spec": "fmnist"}, 2)


def test_canvas_items_are_the_loaders_pixels(tmp_path):
    from dive_bench.tasks.detection import DetectionTask

    task = DetectionTask("tiny", "1", "val", 4, class_sizes=((4, 4), (6, 6), (8, 6)))
    source = task.item_source()
    assert source == {"dataset": "canvas", "split": "val", "num_images": 4, "seed": 0, "image_size": 32,
                      "max_objects": 3, "grid": 17, "classes": ["square", "disk", "triangle"],
                      "class_sizes": [[4, 4], [6, 6], [8, 6]]}
    images = images_of(_run(task="tiny", item_source=json.loads(json.dumps(source))), data_root=tmp_path)
    data = task.load(str(tmp_path))
    assert images.missing is None
    for i in range(4):
        assert np.array_equal(images.get(i), data.images[i].permute(1, 2, 0).numpy())
    assert images.get(0).shape == (32, 32, 3)
    # a canvas run stored without item_source has no fallback: it says so, naming the fix
    legacy = images_of(_run(task="canvas-det"))
    assert "add_sources.py" in legacy.missing
    assert "not class-conditional" in real_by_class({"spec": "canvas-det-ref"}, 2)


def test_real_by_class_takes_the_first_of_each_class():
    from dive_bench.data.numbers import make_numbers

    data = make_numbers(1, "test")
    per_class = real_by_class({"spec": "numbers-10", "name": "numbers-10-test"}, 2)
    labels = data.labels.numpy()
    assert sorted(per_class) == list(range(10)) and all(len(v) == 2 for v in per_class.values())
    assert np.array_equal(per_class[3][1], data.images[np.flatnonzero(labels == 3)[1], 0].numpy())
    assert "cannot read dataset 'imagenet-folder'" in real_by_class({"spec": "imagenet-folder:val"}, 1)


def _sample_folder(folder: Path, config: dict, seed: int) -> np.ndarray:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"schema": 1, "config": config}))
    pixels = np.random.default_rng(seed).integers(0, 256, size=(3, 4, 4), dtype=np.uint8)
    for i, a in enumerate(pixels):
        Image.fromarray(a).save(folder / f"{i:06d}.png")
    return pixels


def test_fidelity_samples_are_found_by_their_manifest(tmp_path):
    other = {**CONFIG, "seed": 1}
    _sample_folder(tmp_path / "a-other" / "samples", other, seed=1)  # listed first: found only by a wrong match
    pixels = _sample_folder(tmp_path / "b-run" / "samples", CONFIG, seed=2)
    run = RunResult({"model": "m", "task": "fidelity:x", "method": "fidelity", "n_items": 3,
                     "samples": {"folder": "/nonexistent/samples", "config": CONFIG}})
    found = samples_of(run, [tmp_path])
    assert found.missing is None and str(tmp_path / "b-run" / "samples") in found.describe()
    assert all(np.array_equal(found.get(i), pixels[i]) for i in range(3))
    assert images_of(run, [tmp_path]).describe() == found.describe()
    # only a folder of another configuration: not used, and the report says where it looked
    lonely = tmp_path / "lonely"
    _sample_folder(lonely / "samples", other, seed=1)
    absent = samples_of(run, [lonely])
    assert absent.missing and str(lonely) in absent.missing and "search path" in absent.missing
    with pytest.raises(DiveBenchError):
        absent.get(0)


def test_generated_runs_find_their_samples_by_name(tmp_path):
    pixels = _sample_folder(tmp_path / "fid" / "samples", CONFIG, seed=3)
    _sample_folder(tmp_path / "fid2" / "samples", {**CONFIG, "steps": 6}, seed=4)
    name = generated_name(CONFIG)
    run = _run(task=f"generated:{name}", n_items=3, item_source={"generated": name})
    found = images_of(run, [tmp_path])
    assert found.missing is None and np.array_equal(found.get(2), pixels[2])
    other = images_of(_run(task=f"generated:{generated_name({**CONFIG, 'steps': 7})}"), [tmp_path])
    assert other.missing and "search path" in other.missing
    with pytest.raises(DiveBenchError, match="not one of the 3 items"):
        found.get(5)
    short = images_of(_run(task=f"generated:{name}", n_items=5), [tmp_path])  # the folder lost samples 3 and 4
    with pytest.raises(DiveBenchError, match="000004.png.*is missing; rerun"):
        short.get(4)


def test_item_source_is_checked_as_an_object():
    with pytest.raises(DiveBenchError, match="item_source"):
        RunResult.checked({"model": "m", "task": "t", "method": "dive", "metrics": {}, "item_source": ["fmnist"]},
                          "run.json")
    assert _run(task="t").item_source == {}


def test_a_score_run_records_its_item_source(tmp_path):
    """The round trip: score writes item_source, merge keeps it, images_of reads the items back."""
    from dive_bench.data.numbers import make_numbers

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "dive_bench", "score", "dit-numbers-10", "--task", "numbers-10", "--items", "3,5",
           "--interval", "100", "--quiet", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    run = RunResult.load(out / "run.json")
    assert run.item_source == {"dataset": "numbers-10", "split": "test"} and run.item_ids == [3, 5]
    images = images_of(run)
    data = make_numbers(1, "test")
    assert all(np.array_equal(images.get(i), data.images[i, 0].numpy()) for i in run.item_ids)
    merged = subprocess.run([sys.executable, "-m", "dive_bench", "merge", str(out)], capture_output=True, text=True)
    assert merged.returncode == 0, merged.stderr[-2000:]
    assert RunResult.load(out / "run.json").item_source == run.item_source
