"""Leaderboard Markdown and the CI regression check (CLI and pytest plugin)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from dive_bench.report.check import INCOMPARABLE, PASS, REGRESSION, parse_margins, verdict
from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.report.leaderboard_page import leaderboard_page
from dive_bench.report.leaderboard import leaderboard_markdown, load_runs
from factories import run_json

ROOT = Path(__file__).resolve().parents[2]
SCORE = ["--task", "digits", "--method", "enumerate", "--limit", "60", "--interval", "50", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A rerun of the bundled checkpoint and a deliberately degraded copy, same protocol."""
    from dive_bench.adapters import load_model
    from dive_bench.models.class_dit import untie

    base = tmp_path_factory.mktemp("runs")
    degraded = base / "degraded_ckpt"
    adapter = load_model("dit-digits-xs")
    model = copy.deepcopy(adapter.transformer)
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3 * p.std().nan_to_num(0.0))  # measured: 98% -> 83%
    untie(model)
    model.save_pretrained(degraded)
    for name, spec in (("a", "dit-digits-xs"), ("b", "dit-digits-xs"), ("bad", f"dit:{degraded}")):
        assert main(["score", spec, *SCORE, "--out", str(base / name)]) == 0
    assert main(["score", "dit-digits-xs", *SCORE[:-3], "--interval", "100", "--quiet", "--out", str(base / "other")]) == 0
    return base


def _run(base, name):
    return json.loads((base / name / "run.json").read_text())


def test_check_passes_on_rerun_fails_on_planted_regression_refuses_incomparable(runs, capsys):
    assert main(["check", str(runs / "b"), "--baseline", str(runs / "a")]) == PASS
    assert _run(runs, "bad")["metrics"]["accuracy"]["value"] < _run(runs, "a")["metrics"]["accuracy"]["value"] - 0.1
    assert main(["check", str(runs / "bad"), "--baseline", str(runs / "a")]) == REGRESSION
    out = capsys.readouterr().out
    assert "REGRESSION" in out and "McNemar" in out
    assert main(["check", str(runs / "other"), "--baseline", str(runs / "a")]) == INCOMPARABLE
    assert "method configuration" in capsys.readouterr().out


def test_margin_and_noninferiority(runs):
    a, bad = _run(runs, "a"), _run(runs, "bad")
    drop = a["metrics"]["accuracy"]["value"] - bad["metrics"]["accuracy"]["value"]
    assert verdict(bad, a, {"accuracy": drop + 0.01}).status == PASS  # a tolerated drop
    assert verdict(_run(runs, "b"), a, mode="noninferiority", margins={"accuracy": 0.02}).status == PASS
    assert verdict(bad, a, mode="noninferiority", margins={"accuracy": 0.02}).status == REGRESSION


def test_wilson_fallback_without_per_item_outcomes(runs):
    a, bad = _run(runs, "a"), _run(runs, "bad")
    for r in (a, bad):
        r.pop("items")
    result = verdict(bad, a)
    assert result.status == REGRESSION and result.metrics[0].test.startswith("unpaired")
    assert verdict(a, copy.deepcopy(a)).status == PASS


def test_different_task_version_or_items_is_incomparable(runs):
    a = _run(runs, "a")
    other = copy.deepcopy(a)
    other["protocol"]["task_version"] = "2"
    assert verdict(other, a).status == INCOMPARABLE
    other = copy.deepcopy(a)
    other["protocol"]["items_sha256"] = "0" * 64
    assert "item set" in verdict(other, a).reason


def test_bad_margin_syntax():
    with pytest.raises(DiveBenchError, match="METRIC=VALUE"):
        parse_margins(["accuracy"])
    assert parse_margins(["accuracy=0.02"]) == {"accuracy": 0.02}


def test_pytest_plugin_fixture(runs):
    from dive_bench.pytest_plugin import dive_bench_check

    check = dive_bench_check.__wrapped__()
    assert check(runs / "b", baseline=runs / "a").status == PASS
    with pytest.raises(pytest.fail.Exception, match="REGRESSION"):
        check(runs / "bad", baseline=runs / "a")
    with pytest.raises(pytest.fail.Exception, match="not comparable"):
        check(runs / "other", baseline=runs / "a")


def test_leaderboard_groups_by_protocol_and_bolds_best(runs, tmp_path):
    md = leaderboard_markdown(load_runs([runs]))
    assert md.count("## Table") == 2  # interval 50 and interval 100 are different protocols
    table = next(t for t in md.split("## Table")[1:] if "degraded_ckpt" in t)
    degraded_row = next(line for line in table.splitlines() if "degraded_ckpt" in line)
    best_row = next(line for line in table.splitlines() if line.startswith("| `dit-digits-xs`"))
    assert "**" in best_row and "**" not in degraded_row
    assert md == leaderboard_markdown(load_runs([runs]))  # stable output
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "lb.md")]) == 0
    # no fidelity run among these: the page is the protocol tables alone
    assert (tmp_path / "lb.md").read_text() == leaderboard_markdown(load_runs([runs]), sources=[str(runs)])


def test_reference_leaderboard_is_up_to_date():
    """leaderboards/LEADERBOARD.md must be what the stored reference runs generate."""
    runs_dir = ROOT / "leaderboards" / "runs"
    if not runs_dir.exists():
        pytest.skip("no reference runs stored yet")
    expected = (ROOT / "leaderboards" / "LEADERBOARD.md").read_text()
    assert leaderboard_page(load_runs([runs_dir]), sources=["leaderboards/runs"]) == expected


def test_numbers_cost_tables_are_up_to_date(tmp_path, monkeypatch):
    """leaderboards/NUMBERS.md must be what leaderboards/numbers_runs.sh's last step makes from the
    stored numbers runs (row names from leaderboards/numbers_rows.tsv)."""
    expected = ROOT / "leaderboards" / "NUMBERS.md"
    if not expected.exists():
        pytest.skip("no numbers runs stored yet")
    monkeypatch.chdir(ROOT)
    rows = [line.split("\t") for line in (ROOT / "leaderboards" / "numbers_rows.tsv").read_text().splitlines()]
    args = [f"leaderboards/runs/numbers-{k}-{row}={name}" for k in (10, 100, 1000) for row, name in rows
            if (ROOT / "leaderboards" / "runs" / f"numbers-{k}-{row}" / "run.json").exists()]
    assert main(["plot", "cost", *args, "--out", str(tmp_path / "n.md")]) == 0
    assert (tmp_path / "n.md").read_text() == expected.read_text()


def test_shipped_sweep_page_is_up_to_date(tmp_path):
    """leaderboards/sweep-fmnist-s/SWEEP.md must be what `dive-bench plot sweep` renders from the
    sweep's stored run.json files (leaderboards/sweep_runs.sh); its checkpoints are not shipped."""
    import shutil

    stored = ROOT / "leaderboards" / "sweep-fmnist-s"
    if not (stored / "SWEEP.md").exists():
        pytest.skip("no sweep stored yet")
    copy_ = tmp_path / "sweep"
    shutil.copytree(stored, copy_, ignore=shutil.ignore_patterns("SWEEP.md", "sweep.png"))
    assert main(["plot", "sweep", str(copy_), "--title", "Checkpoint sweep: dit-fmnist-s recipe, fmnist"]) == 0
    assert (copy_ / "SWEEP.md").read_text() == (stored / "SWEEP.md").read_text()
    assert (copy_ / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    steps = sorted(int(p.name.split("-")[1]) for p in (stored / "score").iterdir())
    assert steps == [500, 1000, 1500, 2000, 2500, 3000]


def test_detection_check_is_paired_over_images():
    """AP regressions are judged by a paired image bootstrap on the stored detections."""
    from dive_bench.data.canvas import load_canvas
    from dive_bench.tasks import TASKS

    task = TASKS.get("canvas-det")
    data = load_canvas(None, "val", 30, seed=0)
    labels = [task.target(data, i) for i in range(len(data))]
    good = [[{"category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0} for a in t["annotations"]] for t in labels]
    worse = [p if i % 3 else [] for i, p in enumerate(good)]  # a third of the images lose their boxes

    from dive_bench.metrics.coco import coco_ap

    gt = {"images": [{"id": t["image_id"], "width": 32, "height": 32} for t in labels],
          "annotations": [a for t in labels for a in t["annotations"]], "categories": task.categories()}

    def run(preds, config=None):
        point = coco_ap(gt, [{**d, "image_id": t["image_id"]} for p, t in zip(preds, labels) for d in p])
        return run_json(model="layout-canvas-s", task="canvas-det", method="dive", method_config=config or {},
                        n_items=len(labels),
                        metrics={k: {"value": point[k]} for k in ("ap", "ap50", "ap75", "aps", "apm", "ar100")},
                        items={"ids": list(range(len(labels))), "predictions": preds, "labels": labels})

    result = verdict(run(worse), run(good), n_boot=300)
    assert result.status == REGRESSION
    # every COCO stat is judged on the paired images, not on a point value; apm is -1 (no
    # medium objects on 32x32 canvases) and is skipped
    assert {m.metric for m in result.metrics if m.test == "paired"} == {"ap", "ap50", "ap75", "aps", "ar100"}
    assert verdict(run(good), run(good), n_boot=300).status == PASS
    # a slightly different run (one image loses its boxes) is within noise on every stat
    nearly = [p if i != 5 else [] for i, p in enumerate(good)]
    assert verdict(run(nearly), run(good), n_boot=300).status == PASS
    # an ablation row against the full method: another config, same images; paired only on request
    ablation = run(worse, config={"prior_weight": 0.5})
    assert verdict(ablation, run(good), n_boot=300).status == INCOMPARABLE
    assert verdict(ablation, run(good), n_boot=300, across_configs=True).status == REGRESSION


def test_detection_leaderboard_has_a_row_per_config_and_coco_columns():
    """Detection tables read like the paper's Table III: a row per (model, config), COCO columns."""
    def run(prior_weight, snap, ap, ap50, steps=30):
        metrics = {"ap": {"value": ap, "ci_low": ap - 0.05, "ci_high": ap + 0.05}, "ap50": {"value": ap50},
                   "ap75": {"value": ap / 2}, "aps": {"value": ap}, "apm": {"value": -1.0}, "apl": {"value": -1.0}}
        cfg = {"interval": 50, "probe_seed": 42, "loss": "l2", "weighting": "x0", "prior_weight": prior_weight,
               "snap": snap, "steps": steps}
        return run_json(model="layout-canvas-s", task="canvas-det", method="dive", method_config=cfg, seed=0,
                        items_sha256="abc", n_items=100, model_info={"params": 2_000_000}, metrics=metrics,
                        timings={"seconds_per_item": 1.0, "evaluations_per_item": 10.0}, env={"device": "cpu"})

    md = leaderboard_markdown([run(0.1, True, 0.5, 0.9), run(0.0, True, 0.4, 0.95), run(0.1, False, 0.3, 0.8),
                               run(0.1, True, 0.2, 0.7, steps=0)])
    table = md.split("Cost per image")[0]
    header = next(line for line in table.splitlines() if line.startswith("| Model"))
    assert [c.strip() for c in header.strip("|").split("|")] == ["Model", "Method", "AP", "AP50", "AP75", "APs",
                                                                   "APm", "APl"]
    rows = [line for line in table.splitlines() if line.startswith("| `layout-canvas-s`")]
    assert len(rows) == 4
    # settings without effect are not shown: no prior words at weight 0, no optimiser words at 0 steps
    assert any("| DIVE (steps=0) " in r for r in rows) and any("DIVE (prior_weight=0.0, snap=True, steps=30)" in r for r in rows)
    best_ap = next(r for r in rows if "prior_weight=0.1, snap=True" in r)
    best_ap50 = next(r for r in rows if "prior_weight=0.0" in r)
    cells = lambda r: [c.strip() for c in r.strip("|").split("|")]  # noqa: E731
    assert cells(best_ap)[2] == "**50.0 [45.0, 55.0]**" and cells(best_ap)[3] == "90.0"
    assert cells(best_ap50)[3] == "**95.0**" and cells(best_ap50)[2] == "40.0 [35.0, 45.0]"
    assert cells(best_ap)[6:] == ["-", "-"]  # pycocotools' -1 (no objects of that size) is not a score
    # the same config under bf16 autocast is its own row, labelled with its precision
    bf16 = run(0.1, True, 0.45, 0.9)
    bf16["env"] = {"device": "cuda", "dtype": "bf16", "tf32": False}
    rows = [line for line in leaderboard_markdown([run(0.1, True, 0.5, 0.9), bf16]).split("Cost per image")[0].splitlines()
            if line.startswith("| `layout-canvas-s`")]
    assert [cells(r)[1] for r in rows] == ["DIVE (precision=bf16)", "DIVE (precision=fp32)"]


def test_repair_settings_leave_row_labels_where_they_change_nothing():
    from dive_bench.report.leaderboard import _effective

    base = {"steps": 30, "snap": True, "prior_weight": 0.1, "prior": "joint", "prior_repairs": False,
            "neighbour_repairs": True}
    assert _effective(base)["neighbour_repairs"] is True
    # repairs act on snapped layouts only: a continuous row is the same run with or without them
    assert "neighbour_repairs" not in _effective({**base, "snap": False})
    # at 0 steps a row is its start, unless a repair search runs on it
    assert "neighbour_repairs" in _effective({**base, "steps": 0})
    assert "neighbour_repairs" not in _effective({**base, "steps": 0, "neighbour_repairs": False})
    # the prior's own repairs disappear with the prior, neighbour repairs do not
    assert _effective({**base, "prior_weight": 0.0}).get("neighbour_repairs") is True
