"""Self-consistency for layout models (issue 15, item 5): a layout model's fidelity samples, each
drawn from the layout of one reference image, scored as a detection set whose ground truth is that
layout (``--task generated:DIR`` on a layout fidelity run).

The fidelity folder is made here by the real ``dive-bench fidelity`` command (bundled
layout-canvas-xs, canvas-det-dev's 50 layouts, 2 DDIM steps); DIVE runs with a light protocol.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.spec.runspec import generated_task_parts
from dive_bench.tasks import TASKS

MODEL = "layout-canvas-xs"
N = 6
FIDELITY = ["--reference", "canvas-det-dev", "--num-samples", str(N), "--steps", "2", "--sampler", "ddim",
            "--feature-extractor", "canvas-classifier", "--quiet"]
#: a 2-step layout DIVE from no initial layout, without repairs or prior, on 3 images
LAYOUT_DIVE_FAST = ["--init", "none", "--steps", "2", "--probes-per-step", "2", "--monitor-every", "1", "--interval", "250",
                    "--no-neighbour-repairs", "--no-prior", "--items-per-batch", "3", "--limit", "3", "--quiet"]


@pytest.fixture(scope="module")
def layout_samples(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("layout-fid") / f"{MODEL}-fidelity"
    assert main(["fidelity", MODEL, *FIDELITY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def layout_canvas_xs():
    from dive_bench.adapters import load_model

    return load_model(MODEL)


def _boxes(annotations: list[dict]) -> list[tuple]:
    return [(a["category_id"], *(float(v) for v in a["bbox"])) for a in annotations]


def test_layout_model_scored_on_its_own_samples(tmp_path, layout_samples, layout_canvas_xs):
    """Ground truth of sample i is reference image i's layout; the name says generator, sample
    configuration and kind; merge rebuilds the AP from the stored name alone."""
    out = tmp_path / "self"
    assert main(["score", MODEL, "--task", f"generated:{layout_samples}", *LAYOUT_DIVE_FAST, "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["task"].endswith(".layout") and str(layout_samples) not in run["task"]
    assert generated_task_parts(run["task"])[0] == layout_canvas_xs.info()["sha256"][:16]
    assert run["metric_info"]["primary"] == "ap" and run["n_items"] == 3
    dev = TASKS.get("canvas-det-dev").load()
    for i, label in enumerate(run["items"]["labels"]):
        assert _boxes(label["annotations"]) == _boxes(dev.annotations[i])
        assert label["category_ids"] == [1, 2, 3]
    # the light protocol finds little; whatever it found, AP is COCO AP of it against those layouts
    assert 0.0 <= run["metrics"]["ap"]["value"] <= 1.0

    (out / "run.json").unlink()
    assert main(["merge", str(out)]) == 0
    merged = json.loads((out / "run.json").read_text())
    assert merged["metrics"] == run["metrics"] and merged["run_key"] == run["run_key"]
    with pytest.raises(DiveBenchError, match="rebuilt from a stored run"):
        TASKS.get(run["task"]).load()


def test_stored_targets_alone_give_ap_of_the_layouts_used(layout_samples):
    """The task rebuilt from a stored name scores from stored targets: the exact layouts give AP 1,
    every box one grid cell (2 px) right of its object gives less, no boxes give 0."""
    task = TASKS.get(f"generated:{layout_samples}")
    data = task.load()
    targets = [task.target(data, i) for i in range(N)]
    rebuilt = TASKS.get(task.name)
    assert type(rebuilt).__name__ == "GeneratedLayoutTask" and rebuilt.name == task.name

    def boxes(dx: float) -> list[list[dict]]:
        return [[{"category_id": a["category_id"], "bbox": [a["bbox"][0] + dx, *a["bbox"][1:]], "score": 1.0}
                 for a in t["annotations"]] for t in targets]

    assert rebuilt.metrics(boxes(0.0), targets)["ap"]["value"] == pytest.approx(1.0)
    shifted = rebuilt.metrics(boxes(2.0), targets)["ap"]["value"]
    assert 0.0 < shifted < 1.0
    assert rebuilt.metrics([[] for _ in targets], targets)["ap"]["value"] == 0.0


def test_each_sample_was_drawn_from_its_target_layout(tmp_path, layout_samples, layout_canvas_xs):
    """Regenerating the samples from the task's targets (tokenized) under the fidelity run's
    sample configuration reproduces them pixel for pixel: target i is the layout sample i saw."""
    from dive_bench.generative.sample_cache import SampleCache
    from dive_bench.generative.sampling import generate_samples
    from dive_bench.labels import layout_tokenizer

    task = TASKS.get(f"generated:{layout_samples}")
    data = task.load()
    tok = layout_tokenizer(layout_canvas_xs)
    config = json.loads((layout_samples / "run.json").read_text())["samples"]["config"]
    again = SampleCache(tmp_path / "again", config)
    generate_samples(layout_canvas_xs, again, N, batch_size=N, progress=False,
                     labels_for=lambda idx: torch.stack([tok.encode(data.annotations[i]) for i in idx]))
    assert torch.equal(again.load(N), data.images)
    # and a one-off misalignment would not: neighbouring layouts make other images
    assert not torch.equal(again.load(N)[1:], data.images[:-1])


@pytest.mark.parametrize("edit, message", [
    ("reference-layouts:canvas-det-dev:0123456789abcdef", "here has other images"),
    ("reference-layouts:no-such-task:0123456789abcdef", "which this installation does not have"),
    ("sorted", "neither balanced class labels nor the layouts of a detection set"),
])
def test_bad_layout_sample_folders_fail_in_one_line(tmp_path, layout_samples, capsys, edit, message):
    folder = tmp_path / "bad"
    shutil.copytree(layout_samples, folder)
    run = json.loads((folder / "run.json").read_text())
    run["samples"]["config"]["labels"] = edit
    (folder / "run.json").write_text(json.dumps(run))
    code = main(["score", MODEL, "--task", f"generated:{folder}", *LAYOUT_DIVE_FAST, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out" / "run.json").exists()


def test_a_class_model_is_refused_on_layout_samples(layout_samples):
    from dive_bench.adapters import load_model

    task = TASKS.get(f"generated:{layout_samples}")
    with pytest.raises(DiveBenchError, match="dit-digits-xs' is class-conditional"):
        task.check_compatible(load_model("dit-digits-xs"), task.load())
