"""Checkpoint sweeps over many workers (``sweep --shard K/N``, torchrun's RANK/WORLD_SIZE): each worker
scores its share of the checkpoints, the results and the page equal the one-worker sweep's, and
the page is written only once every checkpoint is done. The ``trained`` fixture (checkpoints at
steps 2, 4, 6 of a tiny digits DiT) is in conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError

#: enumerate on 8 digits with a coarse grid: a second or so per checkpoint
PROTOCOL = ["--task", "digits", "--method", "enumerate", "--limit", "8", "--interval", "100", "--quiet"]
ROOT = Path(__file__).resolve().parents[2]
#: what differs between two runs of the same checkpoint: when and how long
VOLATILE = ("created", "timings")


def _sweep(trained, out, *extra):
    return main(["sweep", str(trained), *PROTOCOL, "--out", str(out), *extra])


def _results(out):
    """step -> run.json without when/how long: per-item predictions and traces, metrics, keys."""
    runs = {}
    for path in sorted((out / "score").glob("*/run.json")):
        run = json.loads(path.read_text())
        runs[run["checkpoint"]["step"]] = {k: v for k, v in run.items() if k not in VOLATILE}
    return runs


@pytest.fixture(scope="module")
def one_worker(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("one-worker") / "sweep"
    assert _sweep(trained, out) == 0
    return out


def test_two_workers_give_the_one_worker_results_and_page(trained, one_worker, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert _sweep(trained, out, "--shard", "0/2") == 0  # steps 2 and 6 (positions 0 and 2)
    said = capsys.readouterr().out.strip()
    assert sorted(_results(out)) == [2, 6] and not (out / "SWEEP.md").exists() and not (out / "sweep.png").exists()
    assert len(said.splitlines()) == 1 and "2 of 3 are done" in said and f"dive-bench plot sweep {out}" in said

    assert _sweep(trained, out, "--shard", "1/2") == 0  # step 4, the last one: this worker writes the page
    assert "wrote" in capsys.readouterr().out
    expected = _results(one_worker)
    assert sorted(expected) == [2, 4, 6]
    got = _results(out)
    for step in expected:
        assert got[step]["items"]["predictions"] == expected[step]["items"]["predictions"]
        assert got[step]["metrics"] == expected[step]["metrics"] and got[step]["n_done"] == 8
    assert got == expected  # everything but the clock, including the run keys and the item traces
    assert (out / "SWEEP.md").read_bytes() == (one_worker / "SWEEP.md").read_bytes()
    assert (out / "sweep.png").read_bytes() == (one_worker / "sweep.png").read_bytes()  # matplotlib is deterministic
    assert json.loads((out / "sweep.json").read_text()) == json.loads((one_worker / "sweep.json").read_text())
    assert not list(out.glob(".*"))  # no temporary file of sweep.json or the page left behind


def test_three_workers_cover_every_checkpoint_exactly_once(trained, tmp_path, monkeypatch, capsys):
    import dive_bench.run.sweep as sweep

    scored = []
    monkeypatch.setattr(sweep, "_score_one", lambda req, step, folder: scored.append((req.shard, step, folder.name)))
    out = tmp_path / "sweep"
    for k in range(3):
        assert _sweep(trained, out, "--shard", f"{k}/3") == 0
    assert [s for _, s, _ in scored] == [2, 4, 6]
    assert [(shard, name) for shard, _, name in scored] == [("0/3", "step-000002"), ("1/3", "step-000004"),
                                                           ("2/3", "step-000006")]
    assert capsys.readouterr().out.count("0 of 3 are done") == 3  # nothing was scored: no page

    # the rule on a longer list: a partition, shares differ by at most one, and early and late mixed
    checkpoints = [(100 * (j + 1), Path(f"step-{j}")) for j in range(10)]
    shares = [sweep.share(checkpoints, k, 3) for k in range(3)]
    assert sorted(c for s in shares for c in s) == checkpoints
    assert [len(s) for s in shares] == [4, 3, 3]
    assert [step for step, _ in shares[1]] == [200, 500, 800]


def test_an_out_of_range_worker_is_refused_with_one_line_before_any_work(trained, tmp_path, capsys, monkeypatch):
    out = tmp_path / "sweep"
    assert _sweep(trained, out, "--shard", "2/2") == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "2/2" in err and "out of range" in err and "1/2" in err
    assert not out.exists()

    monkeypatch.setenv("RANK", "4")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert _sweep(trained, out) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "RANK/WORLD_SIZE" in err and not out.exists()


def test_a_worker_with_another_protocol_is_refused_and_leaves_the_results(trained, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert _sweep(trained, out, "--shard", "1/2") == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    other = [*PROTOCOL[:4], "--limit", "4", *PROTOCOL[6:]]
    assert main(["sweep", str(trained), *other, "--out", str(out), "--shard", "0/2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "limit" in err and "new --out" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_workers_racing_to_pin_the_protocol_agree_or_are_refused(trained, tmp_path):
    """Four workers start at once, two with --limit 8 and two with --limit 4: whichever publishes
    sweep.json first wins, the other protocol's workers are refused, and none fails otherwise."""
    from dive_bench.run.sweep import SweepRequest, _pin_protocol

    out = tmp_path / "sweep"
    barrier = threading.Barrier(4)
    outcome = {}

    def worker(i):
        req = SweepRequest(ckpt_dir=trained, task="digits", out=out, limit=8 if i % 2 else 4)
        barrier.wait()
        try:
            _pin_protocol(req)
            outcome[i] = "ok"
        except DiveBenchError as exc:
            outcome[i] = str(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = json.loads((out / "sweep.json").read_text())["protocol"]["limit"]
    for i, result in outcome.items():
        if (8 if i % 2 else 4) == stored:
            assert result == "ok"
        else:
            assert "other settings (limit differ)" in result
    assert sorted(p.name for p in out.iterdir()) == ["sweep.json"]


def test_two_concurrent_workers_under_torchrun_variables(trained, one_worker, tmp_path):
    """What ``torchrun --nproc-per-node 2 -m dive_bench sweep ...`` starts: two processes that differ
    only in RANK (and LOCAL_RANK). Each scores whole checkpoints (the score inside is not sharded
    by RANK: every run.json has all 8 items), and the page equals the one-worker page."""
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2"}
    cmd = [sys.executable, "-m", "dive_bench", "sweep", str(trained), *PROTOCOL, "--out", str(out)]
    procs = [subprocess.Popen(cmd, env={**env, "RANK": str(k), "LOCAL_RANK": str(k)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for k in range(2)]
    said = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in said]
    assert any("wrote" in o for o, _ in said)  # the one that finished last (or both, if at once)
    assert all(len(o.strip().splitlines()) == 1 for o, _ in said)
    assert [p.name for p in (out / "score" / "step-000004" / "shards").glob("*.sqlite")] == ["shard-0-of-1.sqlite"]
    assert _results(out) == _results(one_worker)
    assert (out / "SWEEP.md").read_bytes() == (one_worker / "SWEEP.md").read_bytes()
    assert (out / "sweep.png").read_bytes() == (one_worker / "sweep.png").read_bytes()
