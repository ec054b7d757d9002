"""``dive-bench compare`` on layout models: DIVE AP beside in-domain canvas fidelity (fd_canvas)
in one layout table, the layout half of the paper's Table VI, from run.json files alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dive_bench.report.comparison import build_tables, comparison_markdown
from factories import layout_outcomes, run_json

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "leaderboards" / "runs"
DIVE_CONFIG = {"init": "coarse", "interval": 50, "neighbour_repairs": True, "prior_weight": 0.0, "steps": 30,
               "probe_seed": 42, "loss": "l2", "weighting": "x0"}
FID_CONFIG = {"sampler": "ddim", "steps": 50, "guidance_scale": 1.0, "seed": 0, "num_samples": 2000, "dtype": "fp32",
              "labels": "reference-layouts:canvas-det-ref:0123456789abcdef", "feature_extractor": "canvas-classifier",
              "extractor_weights_sha256": "cd" * 32}


def _info(name: str, params: int) -> dict:
    return {"name": name, "params": params, "sha256": f"sha-{name}", "adapter": "layout", "num_classes": 3}


def dive_run(name: str, params: int, hits: int) -> dict:
    """canvas-det DIVE on 6 images with one box each: the first ``hits`` found exactly."""
    labels, predictions = layout_outcomes(hits)
    return run_json(model=name, task="canvas-det", method="dive", method_config=DIVE_CONFIG, seed=0,
                    items_sha256="val-100", n_items=6,
                    metrics={"ap": {"value": hits / 6, "ci_low": 0.0, "ci_high": 1.0, "n": 6}},
                    metric_info={"primary": "ap", "higher_is_better": {"ap": True}}, model_info=_info(name, params),
                    timings={"evaluations_per_item": 8000.0, "seconds_per_item": 20.0}, env={"dtype": "fp32"},
                    items={"ids": list(range(6)), "labels": labels, "predictions": predictions})


def fidelity_run(name: str, params: int, fd: float) -> dict:
    metrics = {"fd_canvas": {"value": fd, "bootstrap": [fd - 1, fd, fd + 1]}, "is_canvas": {"value": 5.0, "std": 0.1},
               "precision_canvas": {"value": 0.5}}
    return run_json(model=name, task="fidelity:canvas-det-ref", method="fidelity", method_config=FID_CONFIG, seed=0,
                    items_sha256="ref-2000", n_items=2000, metrics=metrics,
                    metric_info={"primary": "fd_canvas", "higher_is_better": {"fd_canvas": False, "is_canvas": True,
                                                                             "precision_canvas": True}},
                    model_info=_info(name, params), timings={"seconds_per_1000_samples": 100.0},
                    reference={"n": 2000, "name": "canvas-det-ref"})


def _row(md: str, model: str) -> list[str]:
    line = next(ln for ln in md.splitlines() if ln.startswith(f"| `{model}`"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_two_layout_models_share_one_table_with_fd_canvas_beside_dive_ap():
    runs = [dive_run("lay-s", 2_000_000, 5), dive_run("lay-xs", 600_000, 2),
            fidelity_run("lay-s", 2_000_000, 3.0), fidelity_run("lay-xs", 600_000, 9.0)]
    tables, notes = build_tables(runs)
    assert len(tables) == 1 and tables[0].kind == "layout" and not notes
    md = comparison_markdown(runs, n_boot=20, seed=0)
    assert "## Layout-conditional models" in md and "## Class-conditional models" not in md
    header = next(ln for ln in md.splitlines() if ln.startswith("| Model"))
    assert "fd_canvas (canvas-classifier, N=2000) ↓" in header and "DIVE: AP (%) [95% CI]" in header
    assert header.index("fd_canvas") < header.index("DIVE: AP")  # fidelity beside, before DIVE
    xs, s = _row(md, "lay-xs"), _row(md, "lay-s")
    assert md.index("`lay-xs`") < md.index("`lay-s` |")  # rows by size
    assert xs[1] == "0.60M" and s[1] == "2.00M"
    assert s[2].startswith("**3.000") and xs[2].startswith("9.000")  # lower FD is better: bold
    assert "canvas-det-ref" in md and "N = 2000 samples per model" in md


def test_layout_self_consistency_is_an_ap_column_with_its_own_caption():
    """A layout model's DIVE run on its own samples (task generated:G.S.layout) adds an AP column to
    the layout table, and the caption says what its ground truth is."""
    runs = [dive_run("lay-s", 2_000_000, 5), dive_run("lay-xs", 600_000, 2),
            fidelity_run("lay-s", 2_000_000, 3.0), fidelity_run("lay-xs", 600_000, 9.0)]
    sha = {"lay-s": "a" * 64, "lay-xs": "b" * 64}  # hex, as real model hashes: the name's prefix matches
    for name, params, hits in (("lay-s", 2_000_000, 4), ("lay-xs", 600_000, 1)):
        own = dive_run(name, params, hits)
        own["task"] = own["protocol"]["task"] = f"generated:{sha[name][:16]}.{'7' * 16}.layout"
        runs.append(own)
    for r in runs:
        r["model_info"]["sha256"] = sha[r["model"]]
    tables, notes = build_tables(runs)
    assert len(tables) == 1 and not notes and len(tables[0].consistency) == 1
    md = comparison_markdown(runs, n_boot=20, seed=0)
    header = [c.strip() for c in next(ln for ln in md.splitlines() if ln.startswith("| Model")).strip("|").split("|")]
    col = next(i for i, h in enumerate(header) if h.startswith("Self-consistency (DIVE") and h.endswith(
        ", 6 samples): AP (%) [95% CI]"))
    assert _row(md, "lay-s")[col].strip("*").startswith(f"{100 * 4 / 6:.1f}")
    assert _row(md, "lay-xs")[col].startswith(f"{100 * 1 / 6:.1f}")
    assert "drawn from the layout of the fidelity reference's image i" in md and "class i mod K" not in md


def test_dive_seconds_read_from_the_seed_cache_are_shown_beside_the_run_s_own():
    """A row whose coarse seeds came from the cache (another run computed them) shows what they
    cost when computed, so it is not mistaken for the cheaper model."""
    cached = dive_run("lay-s", 2_000_000, 5)
    cached["timings"] = {"evaluations_per_item": 8147.4, "seconds_per_item": 19.45, "cached_seconds_per_item": 43.8}
    fresh = dive_run("lay-xs", 600_000, 2)
    fresh["timings"] = {"evaluations_per_item": 8100.0, "seconds_per_item": 36.9}
    md = comparison_markdown([cached, fresh], n_boot=20, seed=0)
    assert _row(md, "lay-s")[-1] == "19.45 + 43.8 cached" and _row(md, "lay-xs")[-1] == "36.90"


def test_a_fidelity_run_at_another_n_gets_no_shared_column():
    other = fidelity_run("lay-xs", 600_000, 9.0)
    other["method_config"] = {**FID_CONFIG, "num_samples": 500}
    other["protocol"]["method_config"] = other["method_config"]
    runs = [dive_run("lay-s", 2_000_000, 5), dive_run("lay-xs", 600_000, 2), fidelity_run("lay-s", 2_000_000, 3.0),
            other]
    tables, _ = build_tables(runs)
    assert len(tables) == 2 and all(len(t.fidelity) == 1 for t in tables)


STORED = ["layout-canvas-s-dive-no-prior-neighbour-repairs", "layout-canvas-xs-dive-no-prior-neighbour-repairs",
          "layout-canvas-s-fidelity", "layout-canvas-xs-fidelity",
          "layout-canvas-s-self-consistency", "layout-canvas-xs-self-consistency"]


@pytest.mark.skipif(not all((RUNS / n / "run.json").is_file() for n in STORED),
                    reason="the layout Table VI runs (leaderboards/layout_table6_runs.sh) are not all stored yet")
def test_stored_layout_table6_runs_render_one_layout_table_with_both_models():
    runs = []
    for n in STORED:
        run = json.loads((RUNS / n / "run.json").read_text())
        run["_path"] = str(RUNS / n / "run.json")
        runs.append(run)
    tables, notes = build_tables(runs)
    assert len(tables) == 1 and tables[0].kind == "layout" and not notes
    assert {r["model"] for r in tables[0].score.values()} == {"layout-canvas-s", "layout-canvas-xs"}
    assert {r["model"] for r in tables[0].fidelity.values()} == {"layout-canvas-s", "layout-canvas-xs"}
    md = comparison_markdown(runs, n_boot=20, seed=0)
    header = [c.strip() for c in next(ln for ln in md.splitlines() if ln.startswith("| Model")).strip("|").split("|")]
    col = next(i for i, h in enumerate(header) if h.startswith("Self-consistency (DIVE"))
    assert {r["model"] for c in tables[0].consistency.values() for r in c.values()} == {"layout-canvas-s",
                                                                                       "layout-canvas-xs"}
    for model in ("layout-canvas-s", "layout-canvas-xs"):
        cells = _row(md, model)
        assert len([c for c in cells if c and c != "-"]) >= 7, cells  # fidelity, AP and self-consistency filled
        ap = json.loads((RUNS / f"{model}-self-consistency" / "run.json").read_text())["metrics"]["ap"]
        assert cells[col].strip("*") == (f"{100 * ap['value']:.1f} [{100 * ap['ci_low']:.1f}, "
                                         f"{100 * ap['ci_high']:.1f}]")
        assert ap["n"] == 100
