"""Method defaults come from one rule keyed by the model's label space, not by the task's name
(``spec/defaults.py``), and run.json says where each default came from (``defaults_from``)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from dive_bench.cli.main import main
from dive_bench.spec.defaults import LARGE_K_DIVE, LARGE_LABEL_SPACE, method_defaults
from dive_bench.tasks import TASKS

LIGHT = ["--method", "dive", "--interval", "100", "--limit", "3", "--quiet", "--items-per-batch", "3"]


def _export(tmp_path, n: int = 3):
    """The first ``n`` numbers-1000 test images as a user's folder: PNGs and a labels.csv."""
    task = TASKS.get("numbers-1000")
    data = task.load(None)
    root = tmp_path / "my-numbers"
    root.mkdir()
    lines = []
    for i in range(n):
        Image.fromarray(np.asarray(data.images[i][0], dtype=np.uint8), mode="L").save(root / f"img{i:03d}.png")
        lines.append(f"img{i:03d}.png,{task.target(data, i)}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_a_folder_export_of_a_large_label_space_gets_the_large_k_defaults(tmp_path):
    """The bug: a folder: export of numbers-1000 images silently ran the released DIVE (200 steps of
    25 probes, ~6,000 evaluations per image) instead of the large-K default (245)."""
    root = _export(tmp_path)
    assert main(["score", "dit-numbers-1000", "--task", f"folder:{root}", *LIGHT, "--out", str(tmp_path / "f")]) == 0
    folder = json.loads((tmp_path / "f" / "run.json").read_text())
    assert main(["score", "dit-numbers-1000", "--task", "numbers-1000", *LIGHT, "--out", str(tmp_path / "b")]) == 0
    builtin = json.loads((tmp_path / "b" / "run.json").read_text())
    assert folder["method_config"] == builtin["method_config"]
    assert all(folder["method_config"][k] == v for k, v in LARGE_K_DIVE.items())
    assert folder["timings"]["evaluations_per_item"] <= 245
    rule = f"label space: K = 1000 >= {LARGE_LABEL_SPACE}"
    assert folder["defaults_from"] == builtin["defaults_from"] == {k: rule for k in LARGE_K_DIVE}
    # what the user gives is theirs, and run.json does not claim it came from a default
    assert main(["score", "dit-numbers-1000", "--task", f"folder:{root}", *LIGHT, "--steps", "20",
                 "--out", str(tmp_path / "g")]) == 0
    given = json.loads((tmp_path / "g" / "run.json").read_text())
    assert given["method_config"]["steps"] == 20 and "steps" not in given["defaults_from"]


def test_the_rule_and_what_tasks_declare():
    assert method_defaults("dive", 1000, {}, "folder:x") == (LARGE_K_DIVE, {
        k: "label space: K = 1000 >= 100" for k in LARGE_K_DIVE})
    assert method_defaults("dive", 10, {}, "fmnist") == ({}, {})  # small K: the method's own defaults
    assert method_defaults("enumerate", 1000, {}, "x") == ({}, {})
    assert method_defaults("dive", None, {}, "coco:x") == ({}, {})  # layout models: no class rule
    # a task's declaration replaces the rule for that method: the paper's ImageNet protocol stays
    # the released DIVE at K = 1000, numbers-10 keeps the K-sweep's configuration at K = 10
    assert method_defaults("dive", 1000, TASKS.get("imagenet-2x1000").method_defaults, "imagenet-2x1000") == ({}, {})
    cfg, src = method_defaults("dive", 10, TASKS.get("numbers-10").method_defaults, "numbers-10")
    assert cfg == LARGE_K_DIVE and set(src.values()) == {"task numbers-10"}
