"""A fidelity run's key has a home (``spec.fidelity_spec.FidelitySpec``) and every stored fidelity
run's key recomputes from its run.json, so moving the hash there changed no key."""

from __future__ import annotations

import json
from pathlib import Path

from dive_bench.spec.fidelity_spec import FidelitySpec

RUNS = Path(__file__).resolve().parents[2] / "leaderboards"


def test_every_stored_fidelity_key_recomputes():
    stored = [json.loads(p.read_text()) for p in sorted(RUNS.rglob("run.json"))]
    fidelity = [r for r in stored if r.get("method") == "fidelity"]
    assert len(fidelity) >= 8
    for run in fidelity:
        spec = FidelitySpec.of_run(run)
        assert spec.key() == run["run_key"], run["model"]
        assert spec.protocol() == {k: v for k, v in run["protocol"].items() if k != "seed"}


def test_the_key_changes_with_what_changes_the_numbers():
    base = FidelitySpec("fidelity:x", "m" * 64, "r" * 64, {"sampler": "ddim", "steps": 50, "seed": 0})
    assert base.key() == FidelitySpec("fidelity:x", "m" * 64, "r" * 64, dict(base.config)).key()
    for other in (FidelitySpec("fidelity:x", "n" * 64, "r" * 64, base.config),
                  FidelitySpec("fidelity:x", "m" * 64, "s" * 64, base.config),
                  FidelitySpec("fidelity:x", "m" * 64, "r" * 64, {**base.config, "steps": 25})):
        assert other.key() != base.key()
