"""Self-consistency per class (issue 15, item 5: "the fraction recovered, per class and overall").

``per_class`` counts a classification run's stored outcomes per class; ``compare`` prints them
below a table with a self-consistency column, for the real images and the model's own samples.
Hand-made runs check every number by hand; the stored LEADERBOARD.md is checked against its runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dive_bench.report.comparison import build_tables, comparison_markdown
from dive_bench.report.per_class import MAX_CLASS_COLUMNS, class_recall, per_class_rows
from factories import run_json

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "leaderboards" / "runs"


def _run(labels: list[int], predictions: list[int], num_classes: int = 4) -> dict:
    return run_json(model="m", task="digits", method="enumerate", method_config={}, n_items=len(labels), metrics={},
                    model_info={"num_classes": num_classes},
                    items={"ids": list(range(len(labels))), "labels": labels, "predictions": predictions})


def test_recall_per_class_overall_and_sink_by_hand():
    # class 0: 3 of 4 right; class 1: 0 of 2 (both answered 2); class 2: 1 of 1; class 3: none drawn
    r = class_recall(_run([0, 0, 0, 0, 1, 1, 2], [0, 0, 0, 2, 2, 2, 2]))
    assert r.n.tolist() == [4, 2, 1, 0] and r.correct.tolist() == [3, 0, 1, 0]
    assert r.recall[:3].tolist() == [0.75, 0.0, 1.0] and np.isnan(r.recall[3])
    assert r.overall == pytest.approx(4 / 7)
    assert r.sink() == (2, pytest.approx(4 / 7))  # 4 of 7 answers are class 2
    columns, rows = per_class_rows(["m"], [r])
    assert columns == ["Model", "overall (%)", "0", "1", "2", "3", "most answered class (share of answers)"]
    assert rows[0] == {"Model": "m", "overall (%)": "57.1", "0": "75", "1": "0", "2": "100", "3": "-",
                       "most answered class (share of answers)": "2 (57%)"}


def test_label_space_from_the_model_or_from_the_indices_seen():
    assert class_recall(_run([0, 1], [0, 1], num_classes=10)).num_classes == 10
    assert class_recall({"items": {"labels": [0, 5], "predictions": [7, 5]}}).num_classes == 8


@pytest.mark.parametrize("items", [
    {"labels": [{"boxes": [[0, 0, 1, 1]], "category_ids": [1]}], "predictions": [{"boxes": [], "scores": []}]},
    {"labels": [0, 1], "predictions": [True, False]},  # not class indices
    {"labels": [0, 1], "predictions": [0]},  # misaligned
    {"labels": [], "predictions": []},
    {"labels": [-1, 0], "predictions": [0, 0]},
])
def test_runs_whose_items_are_not_class_outcomes_give_nothing(items):
    assert class_recall({"items": items}) is None


def test_a_thousand_classes_are_summarised_not_given_a_column_each():
    k = 1000
    labels = np.repeat(np.arange(k), 2)
    predictions = labels.copy()
    predictions[:20] = 999  # classes 0-9 never recovered: every answer for them is 999
    predictions[20] = 999  # class 10 recovered once of 2
    r = class_recall(_run(labels.tolist(), predictions.tolist(), num_classes=k))
    columns, rows = per_class_rows(["m"], [r])
    assert len(columns) < MAX_CLASS_COLUMNS and "0" not in columns
    assert rows[0]["classes never recovered"] == "10 of 1000"
    assert rows[0]["median class (%)"] == "100"
    assert rows[0]["5 worst classes (class: %)"] == "0: 0, 1: 0, 2: 0, 3: 0, 4: 0"
    assert rows[0]["most answered class (share of answers)"] == "999 (1%)"  # 23 of 2000 answers


def _class_runs() -> list[dict]:
    """Four models with DIVE on 40 real images and self-consistency on 40 own samples (4 classes x 10)."""
    from factories import MODELS, fidelity_run, score_run, with_task

    runs = []
    for i, (name, params, right, fd, precision) in enumerate(MODELS):
        sha = f"{i + 1:x}" * 64
        own = with_task(score_run(name, params, 0, method="enumerate"), f"generated:{sha[:16]}.{'5' * 16}")
        labels = [c for c in range(4) for _ in range(10)]
        # model i recovers class c's samples for the first i + c of its 10, and answers 3 otherwise
        own["items"]["labels"] = labels
        own["items"]["predictions"] = [c if j < i + c else 3 for c in range(4) for j in range(10)]
        for r in (score_run(name, params, right), fidelity_run(name, params, fd, precision), own):
            r["model_info"] = {**r["model_info"], "sha256": sha, "num_classes": 4}
            runs.append(r)
    return runs


def test_compare_prints_recall_per_class_on_real_images_and_own_samples():
    md = comparison_markdown(_class_runs(), n_boot=20)
    block = md.split("Per class, Self-consistency", 1)[1]
    assert "(40 per class)" in block.split("\n", 1)[0] and "(10 drawn per class)" in block.split("\n", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines() if line.startswith("| `")]
    assert [r[:2] for r in rows[:2]] == [["`m-xs`", "DIVE, fmnist"], ["`m-xs`", "own samples"]]
    own = {r[0]: r for r in rows if r[1] == "own samples"}
    # m-b (i = 2): classes 0-2 recover 2, 3, 4 of 10; class 3 all 10 (it is the answer for the rest)
    assert own["`m-b`"][2:] == ["47.5", "20", "30", "40", "100", "3 (78%)"]
    real = {r[0]: r for r in rows if r[1] != "own samples"}
    assert real["`m-l`"][2:] == ["80.0", "80", "-", "-", "-", "0 (80%)"]  # 32 of 40 label-0 images right


def test_a_layout_self_consistency_column_gets_no_per_class_block():
    runs = _class_runs()
    for r in runs:
        if r["task"].startswith("generated:"):
            r["task"] = r["protocol"]["task"] = r["task"] + ".layout"
            r["items"]["labels"] = [{"boxes": [], "category_ids": []}] * 40
    assert next(iter(build_tables(runs)[0][0].consistency))  # the column is there
    assert "Per class," not in comparison_markdown(runs, n_boot=20)


STORED = pytest.mark.skipif(not (RUNS / "dit-fmnist-b-self-consistency").is_dir(), reason="no stored reference runs")


@STORED
def test_stored_per_class_table_is_the_runs_outcomes():
    """LEADERBOARD.md's per-class block of the class comparison: each cell is correct / drawn of
    that class in the run's stored items."""
    md = (ROOT / "leaderboards" / "LEADERBOARD.md").read_text()
    block = md.split("### Class-conditional models", 1)[1].split("### Layout", 1)[0].split("Per class,", 1)[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines() if line.startswith("| `")]
    assert len(rows) == 10  # 5 models x (real images, own samples)
    for row in rows:
        model, on = row[0].strip("`"), row[1]
        run = json.loads((RUNS / f"{model}-{'self-consistency' if on == 'own samples' else 'dive'}" / "run.json")
                         .read_text())
        y, p = np.array(run["items"]["labels"]), np.array(run["items"]["predictions"])
        assert row[3:13] == [f"{100 * (p[y == c] == c).mean():.0f}" for c in range(10)], row
        assert row[2] == f"{100 * (p == y).mean():.1f}"
    own = {r[0].strip("`"): r for r in rows if r[1] == "own samples"}
    # pinned from the stored runs (leaderboards/runs/*-self-consistency, table6_runs.sh): the flow
    # DiT recovers all 30 of its trousers (class 1); DiT-s none of classes 0-2, and its answers
    # pile onto class 6 (shirt), 92 of 300
    assert own["dit-fmnist-b-flow"][4] == "100"
    assert own["dit-fmnist-s"][3:6] == ["0", "0", "0"] and own["dit-fmnist-s"][13] == "6 (31%)"
