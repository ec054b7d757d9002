"""pytest plugin (entry point ``pytest11``): a one-line quality test for a model repository.

    def test_quality(dive_bench_check):
        dive_bench_check("runs/current", baseline="leaderboards/runs/baseline", margins={"accuracy": 0.01})

Fails with the Markdown verdict table on a regression or an incomparable pair of runs.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def dive_bench_check():
    from dive_bench.report.check import INCOMPARABLE, PASS, load_run, verdict as judge

    def check(current, baseline, margins: dict[str, float] | None = None, mode: str = "regression",
              allow_failed: bool = False, allow_partial: bool = False):
        verdict = judge(load_run(current), load_run(baseline), margins, mode, allow_failed=allow_failed,
                        allow_partial=allow_partial)
        if verdict.status == INCOMPARABLE:
            pytest.fail("runs are not comparable: " + verdict.reason, pytrace=False)
        if verdict.status != PASS:
            pytest.fail(verdict.markdown(), pytrace=False)
        return verdict

    return check
