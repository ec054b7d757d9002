"""``dive-bench demo`` shows both sides: K = 10, where enumeration is cheaper, beside K = 1000,
where DIVE is, with every run a real one through the public API."""

from __future__ import annotations

import json

from dive_bench.cli.main import main


def test_demo_shows_k10_beside_k1000(tmp_path, capsys):
    assert main(["demo", "--limit", "3", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    k10, k1000 = out.split("K = 10 ", 1)[1].split("K = 1000 ", 1)
    for block in (k10, k1000):
        for name in ("exhaustive enumeration", "adaptive enumeration", "DIVE", "--method auto picks"):
            assert name in block, (name, block)
    assert "not run" in k1000 and "not run" not in k10  # exhaustive at K = 1000 is quoted, not run
    runs = {p.parent.relative_to(tmp_path).as_posix(): json.loads(p.read_text()) for p in tmp_path.glob("k*/*/run.json")}
    assert set(runs) == {"k10/auto", "k10/exhaustive", "k10/dive", "k1000/auto", "k1000/adaptive"}
    choice = runs["k1000/auto"]["method_choice"]
    evals = {c["name"]: c["forward_evals"] + c["train_evals"] for c in choice["candidates"]}
    # the point of the demo: DIVE's cost is flat in K, enumeration's grows with it
    assert evals["DIVE"] < evals["adaptive enumeration"] < evals["exhaustive enumeration"] == 1000 * 10
    k10_evals = {c["name"]: c["forward_evals"] + c["train_evals"]
                 for c in runs["k10/auto"]["method_choice"]["candidates"]}
    assert k10_evals["DIVE"] > k10_evals["exhaustive enumeration"] == 10 * 10
    assert all(r["n_done"] == 3 and r["status"] == "complete" for r in runs.values())
