"""The anytime-valid test of ``score --sequential`` (``metrics.sequential``): wealth values pinned by
hand, stopping points, error rates on simulated streams, and its decisions on the stored runs."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from dive_bench.metrics.sequential import BET_FRACTIONS, checkpoints_every, decide, log_wealth, simulate
from dive_bench.report.check import ALPHA, load_run
from dive_bench.run.sequential import replay

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "leaderboards" / "runs"


def test_wealth_is_the_average_of_the_constant_bets_by_hand():
    # m = 0, two losses of the current model: y_R = +1, y_P = -1 for both items, bets 1/4, 1/2, 3/4
    r = log_wealth([-1, -1], 0.0, "regression")
    p = log_wealth([-1, -1], 0.0, "pass")
    assert BET_FRACTIONS == (0.25, 0.5, 0.75)
    assert math.exp(r[-1]) == pytest.approx((1.25 ** 2 + 1.5 ** 2 + 1.75 ** 2) / 3)  # 2.291666...
    assert math.exp(p[-1]) == pytest.approx((0.75 ** 2 + 0.5 ** 2 + 0.25 ** 2) / 3)  # 0.291666...
    # m = 0.01: the largest bet is 1/(1+m) for R; one tie costs R the margin, pays P
    tie_r = math.exp(log_wealth([0], 0.01, "regression")[0])
    assert tie_r == pytest.approx(sum(1 - f / 1.01 * 0.01 for f in BET_FRACTIONS) / 3)
    tie_p = math.exp(log_wealth([0], 0.01, "pass")[0])
    assert tie_p == pytest.approx(sum(1 + f / 0.99 * 0.01 for f in BET_FRACTIONS) / 3)


def test_every_factor_stays_nonnegative_at_the_extremes():
    """The bound on the bets keeps the wealth >= 0 for the worst item of each side (a supermartingale)."""
    for margin in (0.0, 0.01, 0.5, 0.99):  # bets just below the bound: the worst factor is 0.001 x ...
        assert np.isfinite(log_wealth([1] * 5, margin, "regression", fractions=(0.999,))).all()
        assert np.isfinite(log_wealth([-1] * 5, margin, "pass", fractions=(0.999,))).all()


def test_decide_stops_at_the_first_checkpoint_past_one_over_alpha():
    # all losses, m = 0: mean of 1.25^n, 1.5^n, 1.75^n is 14.6 at n = 6 and 24.1 at n = 7 (>= 20)
    d = [-1] * 12
    assert decide(d, 0.0, ALPHA, range(1, 13)).items == 7
    at8 = decide(d, 0.0, ALPHA, [4, 8, 12])
    assert (at8.verdict, at8.items) == ("regression", 8)
    assert at8.log_wealth["regression"] == pytest.approx(math.log((1.25 ** 8 + 1.5 ** 8 + 1.75 ** 8) / 3))
    unsettled = decide([0] * 12, 0.01, ALPHA, [4, 8, 12])
    assert (unsettled.verdict, unsettled.items) == (None, 12)
    assert checkpoints_every(300, 16)[-3:] == [272, 288, 300]


def test_error_rates_stay_below_alpha_and_a_clear_regression_stops_early():
    """A small version of benchmarks/sequential_error_rates.py: 400 streams per scenario."""
    n, m = 400, 0.01
    se = math.sqrt(ALPHA * (1 - ALPHA) / n)
    at_margin = simulate(0.105, 0.095, m, ALPHA, n_streams=n, seed=1)  # E[D] = -m: both nulls hold
    assert at_margin.regression <= ALPHA + 3 * se and at_margin.passed <= ALPHA + 3 * se
    no_effect = simulate(0.1, 0.1, m, ALPHA, n_streams=n, seed=2)
    assert no_effect.regression <= ALPHA + 3 * se  # false fail
    regression = simulate(0.2, 17 / 300, m, ALPHA, n_streams=n, seed=3)  # 0.77 -> 0.62
    assert regression.passed <= ALPHA + 3 * se  # false pass
    assert regression.regression > 0.9 and regression.mean_items < 150  # of 300
    improvement = simulate(11 / 300, 23 / 300, m, ALPHA, n_streams=n, seed=4)
    assert improvement.regression <= ALPHA + 3 * se


def test_the_rate_check_has_teeth():
    """It could fail: a gate that tested the wrong null (here margin 0.05 on streams whose drop is
    exactly 0.01, as a margin applied twice would) passes far more often than alpha + 3 se."""
    wrong = simulate(0.105, 0.095, 0.05, ALPHA, n_streams=400, seed=1)  # measured: 0.19
    assert wrong.passed > ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 400)


@pytest.mark.parametrize("current, decision, items", [
    ("dit-fmnist-s-dive", "regression", 128),   # 60 vs 17 discordant of 300
    ("dit-fmnist-b-flow-dive", None, 300),       # 11 vs 23: improvement too small to show within 300
    ("dit-fmnist-b-dive", None, 300),            # itself: no discordance, margin 0.01 needs ~300 items
])
def test_replay_of_the_stored_runs(current, decision, items):
    """Pinned from the stored per-item outcomes (leaderboards/runs), checked every 16 items as score does."""
    dec = replay(load_run(RUNS / current), load_run(RUNS / "dit-fmnist-b-dive"), 0.01, 16)
    assert (dec.verdict, dec.items) == (decision, items)


def test_the_stored_table_is_what_the_script_writes():
    spec = importlib.util.spec_from_file_location("sequential_error_rates", ROOT / "benchmarks" /
                                                  "sequential_error_rates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stored = (ROOT / "leaderboards" / "gate" / "sequential_error_rates.md").read_text()
    assert module.render(2000) == stored, "rerun python benchmarks/sequential_error_rates.py"
