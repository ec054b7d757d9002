"""The fidelity gate's acceptance runs (``leaderboards/gate/fidelity.sh``: real fidelity runs of the
bundled Fashion-MNIST DiTs, N = 1,000, 200 paired replicates, run.json files alone) judged by
``dive-bench check`` against the ``dit-fmnist-b`` baseline: the smaller model regresses, a rerun of
the baseline passes, another N and another reference are incomparable."""

from __future__ import annotations

from pathlib import Path

import pytest

from dive_bench.cli.main import main

GATE = Path(__file__).resolve().parents[2] / "leaderboards" / "gate" / "fidelity"


@pytest.mark.parametrize("current, code, phrase", [
    ("s", 1, "score dropped beyond noise and margin"),
    ("b-rerun", 0, "dive-bench check: PASS"),
    ("b-n800", 2, "different N (--num-samples): baseline 1000, current 800"),
    ("b-slice", 2, "different reference (baseline fmnist-test, 10000 images"),
])
def test_stored_acceptance_runs_give_the_expected_exit_codes(capsys, current, code, phrase):
    argv = ["check", str(GATE / current), "--baseline", str(GATE / "b"), "--margin", "fd_fmnist=0.5"]
    assert main(argv) == code
    out = capsys.readouterr().out
    assert phrase in out, out
    if code == 1:  # dit-fmnist-s: FD far above the baseline's, shown by the paired replicates
        assert "| fd_fmnist |" in out and "regressed" in out


def test_pytest_plugin_gates_fidelity_runs():
    """``dive_bench_check`` on fidelity runs: the same paired gate as ``check``, failing with the
    verdict table (FD row) for the smaller model and passing the rerun of the baseline."""
    from dive_bench.pytest_plugin import dive_bench_check

    check = dive_bench_check.__wrapped__()
    with pytest.raises(pytest.fail.Exception, match=r"REGRESSION[\s\S]*\| fd_fmnist \|"):
        check(GATE / "s", baseline=GATE / "b", margins={"fd_fmnist": 0.5})
    assert check(GATE / "b-rerun", baseline=GATE / "b", margins={"fd_fmnist": 0.5}).status == 0
    with pytest.raises(pytest.fail.Exception, match="not comparable: different N"):
        check(GATE / "b-n800", baseline=GATE / "b")
