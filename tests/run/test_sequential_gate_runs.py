"""The sequential gate's acceptance runs (``leaderboards/gate/sequential.sh``: real ``score
--sequential`` DIVE runs of the bundled Fashion-MNIST DiTs against the stored dit-fmnist-b run,
margin 0.01): what each recorded agrees with the gate replayed from its stored per-item outcomes,
and the decisions are those of the issue's acceptance: (a) dit-fmnist-b against its own run
passes, (b) dit-fmnist-s regresses in well under the 300 items, (c) dit-fmnist-b-flow passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from dive_bench.run.sequential import replay, verdict_of
from dive_bench.spec.result import RunResult

ROOT = Path(__file__).resolve().parents[2]
GATE = ROOT / "leaderboards" / "gate" / "sequential"
BASELINE = ROOT / "leaderboards" / "runs" / "dit-fmnist-b-dive" / "run.json"


@pytest.mark.parametrize("name, status, verdict, items_used", [
    ("b", 0, "pass", 300),          # not settled: zero discordance cannot show a drop below 0.01 sooner
    ("s", 1, "regression", 128),    # 43% of the items
    ("flow", 0, "pass", 300),       # not settled: 11 vs 23 discordant
])
def test_stored_sequential_runs_match_a_replay_of_their_outcomes(name, status, verdict, items_used):
    run = RunResult.load(GATE / name / "run.json")
    record = run.sequential
    assert record["verdict"] == verdict and record["items_used"] == items_used == run.n_done
    assert verdict_of(record).status == status
    # the gate replayed from the outcomes stored beside the record reaches the recorded decision
    decision = replay(run, RunResult.load(BASELINE), record["margin"])
    assert decision.items == items_used
    assert decision.verdict == (verdict if record["settled"] else None)
    for side, value in record["log_wealth"].items():
        assert decision.log_wealth[side] == pytest.approx(value, abs=1e-5)


def test_the_gate_page_quotes_the_stored_runs():
    """docs/gate.md's table of real runs states what the stored records hold."""
    page = (ROOT / "docs" / "gate.md").read_text()
    for name, model in (("s", "`dit-fmnist-s`"), ("flow", "`dit-fmnist-b-flow`"), ("b", "`dit-fmnist-b`, its own")):
        record = RunResult.load(GATE / name / "run.json").sequential
        row = next(line for line in page.splitlines() if line.startswith(f"| {model}"))
        assert f"| {record['items_used']} of {record['items_available']} |" in row, row
        assert f"| {1 if record['verdict'] == 'regression' else 0} |" in row, row
