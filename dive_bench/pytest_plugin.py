"""pytest plugin (entry point ``pytest11``): a one-line quality test for a model repository.

    def test_quality(dive_bench_check):
        dive_bench_check("runs/current", baseline="baselines/score", margins={"accuracy": 0.01})

    def test_fidelity(dive_bench_check):
        dive_bench_check("runs/current-fidelity", baseline="baselines/fidelity", margins={"fd_fmnist": 0.5})

    def test_quality_sequential(dive_bench_check):
        dive_bench_check("dit:./checkpoints/latest", baseline="baselines/score", margins={"accuracy": 0.01},
                         sequential=True, out="runs/gate")

The first two judge stored runs exactly as ``dive-bench check`` does: classification, detection
and fidelity runs alike (the test that fits each is chosen by ``report.check.verdict``). With
``sequential=True`` the first argument is a MODEL spec (or a live ``Adapter``): it is scored on the
baseline's task, method and items, in the baseline's order, and stops as soon as the anytime-valid
test of ``score --sequential`` settles, so a clear regression costs a fraction of the items.
Either way the test fails with the Markdown verdict table on a regression or an incomparable pair.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _sequential_verdict(model: Any, baseline: str | Path, margins: dict[str, float] | None, mode: str,
                        out: str | Path | None, options: dict):
    """Score ``model`` against ``baseline`` with the sequential gate; the check-shaped verdict."""
    import dive_bench as db
    from dive_bench.report.check import load_run
    from dive_bench.run.sequential import verdict_of

    base = load_run(baseline)
    result = db.evaluate(model, base.task, base.method, out=out, sequential=True, baseline=str(baseline),
                         margins=margins, mode=mode, **options)
    return verdict_of(result.sequential)


@pytest.fixture
def dive_bench_check():
    from dive_bench.report.check import INCOMPARABLE, PASS, load_run, verdict as judge

    def check(current: Any, baseline: str | Path, margins: dict[str, float] | None = None, mode: str = "regression",
              allow_failed: bool = False, allow_partial: bool = False, sequential: bool = False,
              out: str | Path | None = None, **options: Any):
        """``current``: a run.json (or its folder); with ``sequential=True``, a MODEL spec or an
        Adapter to score into ``out`` (``options``: evaluate's, e.g. ``device="cuda"``)."""
        if sequential:
            from dive_bench.errors import DiveBenchError

            try:
                verdict = _sequential_verdict(current, baseline, margins, mode, out, options)
            except DiveBenchError as exc:  # bad input: its one line, not a traceback through the run
                pytest.fail(f"dive_bench_check: {exc}", pytrace=False)
        else:
            if options or out is not None:
                raise TypeError(f"dive_bench_check: {', '.join([*options, *(['out'] if out is not None else [])])} "
                                "only apply with sequential=True (a run is judged from its stored run.json)")
            verdict = judge(load_run(current), load_run(baseline), margins, mode, allow_failed=allow_failed,
                            allow_partial=allow_partial)
        if verdict.status == INCOMPARABLE:
            pytest.fail("runs are not comparable: " + verdict.reason, pytrace=False)
        if verdict.status != PASS:
            pytest.fail(verdict.markdown(), pytrace=False)
        return verdict

    return check
