"""Table IV, cost vs K and the plot (dive_bench.report.cost_vs_k, `dive-bench plot cost`), from run.json only.

The runs here are written by hand: their predictions, costs and expected numbers are chosen so
that every expected value below can be checked on paper.
"""

import json
import math
import re
import struct

from dive_bench.cli.main import main
from dive_bench.report.cost_vs_k import EXHAUSTIVE, _log_cross, rows, row_name, table_iv
from dive_bench.metrics.stats import mcnemar_exact

from cli_checks import cli_error
from factories import run_json


def _run(path, task, k, method, config, correct, evals, seconds=1.0):
    """A run.json whose items 0..n-1 are right where ``correct`` says (label 1, prediction 1 or 0)."""
    n = len(correct)
    run = run_json(model=f"m{k}", task=task, method=method, method_config=config, seed=0, n_items=n, metrics={},
                   model_info={"num_classes": k}, timings={"evaluations_per_item": evals, "seconds_per_item": seconds},
                   items={"ids": list(range(n)), "predictions": [1 if c else 0 for c in correct], "labels": [1] * n})
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps(run))
    return path


def _cell(text):
    """A table cell holding exactly ``text`` (the table builder pads cells to the column width)."""
    return re.compile(r"\| " + re.escape(text) + r" *\|")


EXH = {"stages": None, "interval": 100}
ADA = {"stages": [[1, 500], [1, 50], [5, 10], [10, 1]], "interval": 100}
DIVE = {"steps": 100, "batch_size": 1, "monitor_every": 5, "lr": 0.1, "patience": None, "init": "gaussian"}


def test_mcnemar_exact_by_hand():
    # 3 vs 9 discordant: 2 * (C(12,0)+C(12,1)+C(12,2)+C(12,3)) / 2^12 = 2 * 299 / 4096
    assert math.isclose(mcnemar_exact(3, 9), 2 * 299 / 4096)
    assert mcnemar_exact(9, 3) == mcnemar_exact(3, 9)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(5, 5) == 1.0


def test_row_names_say_method_and_budget():
    assert row_name({"method": "enumerate", "method_config": EXH}) == EXHAUSTIVE
    assert row_name({"method": "enumerate", "method_config": ADA}) == "Adaptive enumeration (1:500,1:50,5:10,10:1)"
    assert row_name({"method": "dive", "method_config": DIVE}) == "DIVE (100 steps x 1 probes, monitor /5, lr 0.1)"
    assert row_name({"method": "enumerate", "method_config": ADA, "method_choice": {"chosen": "x"}}).startswith("auto: ")


def test_table_iv_pairs_rows_with_exhaustive_by_item(tmp_path):
    exh = [True] * 10 + [False] * 2           # 10 of 12 right
    dive = [False] * 3 + [True] * 7 + [True, True]   # loses items 0-2, wins 10-11: 3 vs 2 discordant
    runs = [_run(tmp_path / "e", "numbers-1000", 1000, "enumerate", EXH, exh, 10_000),
            _run(tmp_path / "d", "numbers-1000", 1000, "dive", DIVE, dive, 400)]
    from dive_bench.report.leaderboard import load_runs

    table = rows(load_runs([str(p) for p in runs]))
    d = next(r for r in table if r["name"].startswith("DIVE"))
    assert d["mcnemar"] == {"n": 12, "only_exhaustive": 3, "only_this": 2, "p": 1.0}
    md = table_iv(table)
    assert _cell("25.0").search(md)  # 10,000 / 400 evaluations
    assert "3 vs 2 discordant, p = 1" in md and "75.0 [" in md and "83.3 [" in md


def test_crossover_is_interpolated_in_log_log():
    # DIVE flat at 1,000; exhaustive 10 * K: equal at K = 100, between the measured 10 and 1000
    k = _log_cross({10: 1000, 1000: 1000}, {10: 100, 1000: 10_000})
    assert math.isclose(k, 100.0)
    assert _log_cross({10: 50, 100: 50}, {10: 100, 100: 1000}) is None  # cheaper everywhere: no crossing


def test_plot_cost_command_writes_tables_and_a_png(tmp_path):
    made = []
    for k, exh_evals, ada_evals in ((10, 100, 55), (100, 1000, 145), (1000, 10_000, 1250)):
        made.append(_run(tmp_path / f"e{k}", f"numbers-{k}", k, "enumerate", EXH, [True] * 4, exh_evals))
        made.append(_run(tmp_path / f"a{k}", f"numbers-{k}", k, "enumerate", ADA, [True] * 4, ada_evals))
        made.append(_run(tmp_path / f"d{k}", f"numbers-{k}", k, "dive", DIVE, [True, True, True, False], 400))
    png, md = tmp_path / "cost.png", tmp_path / "COST.md"
    assert main(["plot", "cost", *map(str, made[:-1]), f"{made[-1]}=DIVE cheap", "--png", str(png),
                 "--out", str(md)]) == 0
    text = md.read_text()
    assert "Table IV at K = 1000" in text and _cell("DIVE cheap").search(text)
    # DIVE (400) vs exhaustive (100 -> 1000): crosses at K = 40 in log-log; vs adaptive (55 -> 145 -> 1250)
    assert "cheaper than exhaustive from K ~ 40" in text
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert width > 1000 and height > 400


def test_plot_cost_refuses_runs_without_classes(tmp_path, capsys):
    run = _run(tmp_path / "f", "fmnist", 10, "fidelity", {}, [True], 0)
    msg = cli_error(capsys, ["plot", "cost", str(run)])
    assert "no classification runs" in msg


def test_plot_cost_refuses_two_tasks_with_one_k(tmp_path, capsys):
    a = _run(tmp_path / "a", "fmnist", 10, "enumerate", EXH, [True], 100)
    b = _run(tmp_path / "b", "digits", 10, "enumerate", EXH, [True], 100)
    msg = cli_error(capsys, ["plot", "cost", str(a), str(b)])
    assert "both have K = 10" in msg


def test_plot_cost_refuses_a_run_without_item_outcomes(tmp_path, capsys):
    run = _run(tmp_path / "e", "numbers-10", 10, "enumerate", EXH, [], 100)
    msg = cli_error(capsys, ["plot", "cost", str(run)])
    assert "no per-item predictions" in msg


def test_auto_rows_say_what_choosing_cost():
    """The guard's evaluations are spent once per run, outside the per-image cost: the notes give
    them in total and per image of the run, and say when no guard ran."""
    from dive_bench.report.cost_vs_k import choice_notes

    rows_ = [{"name": "auto", "k": 1000, "n": 300, "choice": {"chosen": "DIVE", "guard": {
                 "evaluations": 44850, "decision": "DIVE kept"}}},
             {"name": "auto", "k": 10, "n": 300, "choice": {"chosen": "adaptive enumeration", "guard": {
                 "evaluations": 0, "reason": "Not run: the cheapest candidate is an enumeration."}}},
             {"name": "exhaustive", "k": 10, "n": 300, "choice": None}]
    assert choice_notes(rows_) == [
        "- auto at K = 10 ran adaptive enumeration; no guard ran (the cheapest candidate is an enumeration).",
        "- auto at K = 1000 ran DIVE; its accuracy guard spent 44,850 evaluations once (150 per image of these 300; "
        "DIVE kept)."]
