"""Wilson interval properties (closed-form special cases, coverage by simulation)."""

from __future__ import annotations

import math
import random

import pytest

from dive_bench.metrics.stats import wilson_interval

Z = 1.959963984540054


def test_zero_successes_has_closed_form_upper_bound():
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0
    assert hi == pytest.approx(Z * Z / (20 + Z * Z))


def test_symmetric_at_one_half_and_contains_estimate():
    lo, hi = wilson_interval(50, 100)
    assert lo + hi == pytest.approx(1.0)
    for k in (1, 13, 47, 99):
        lo, hi = wilson_interval(k, 100)
        assert lo < k / 100 < hi


def test_coverage_is_close_to_95_percent():
    rng = random.Random(0)
    p, n, trials = 0.9, 60, 3000
    hits = 0
    for _ in range(trials):
        k = sum(rng.random() < p for _ in range(n))
        lo, hi = wilson_interval(k, n)
        hits += lo <= p <= hi
    assert 0.92 < hits / trials < 0.98


def test_bad_input():
    with pytest.raises(ValueError):
        wilson_interval(5, 3)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
