"""Whole runs in subprocesses: SIGKILL + resume, 1 vs 2 workers (--shard and torchrun) agree exactly."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dive_bench.store.shards import collect

ARGS = ["score", "dit-digits-xs", "--task", "digits", "--method", "dive", "--limit", "12", "--items-per-batch", "2",
        "--steps", "10", "--batch-size", "4", "--monitor-every", "5", "--interval", "100", "--quiet"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _cli(out: Path, *extra: str, launcher: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = (launcher or [sys.executable, "-m", "dive_bench"]) + ARGS + ["--out", str(out), *extra]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _items(out: Path) -> dict[int, dict]:
    return {i: r for i, (r, _) in collect(out).results.items()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    _cli(out)
    return out


def _count(db_path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        n = db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        db.close()
        return n
    except sqlite3.Error:
        return 0


def test_sigkill_and_resume_lose_and_duplicate_nothing(tmp_path, baseline):
    out = tmp_path / "run"
    shard = out / "shards" / "shard-0-of-1.sqlite"
    for kill_after in (2, 6):  # kill twice, at different points of the run
        proc = subprocess.Popen([sys.executable, "-m", "dive_bench", *ARGS, "--out", str(out)], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while _count(shard) < kill_after and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        assert kill_after <= _count(shard) < 12
    _cli(out)  # the same command resumes
    db = sqlite3.connect(shard)
    ids = [r[0] for r in db.execute("SELECT item_id FROM items")]
    db.close()
    assert sorted(ids) == list(range(12))  # nothing lost, nothing twice
    assert _items(out) == _items(baseline)
    run, ref = (json.loads((p / "run.json").read_text()) for p in (out, baseline))
    assert run["status"] == "complete" and run["metrics"] == ref["metrics"]


def test_two_shard_processes_match_one_worker(tmp_path, baseline):
    out = tmp_path / "sharded"
    procs = [subprocess.Popen([sys.executable, "-m", "dive_bench", *ARGS, "--out", str(out), "--shard", f"{k}/2"],
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in (1, 0)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    merged = subprocess.run([sys.executable, "-m", "dive_bench", "merge", str(out)], env=ENV, capture_output=True,
                            text=True, timeout=300)
    assert merged.returncode == 0, merged.stderr
    assert sorted(p.name for p in (out / "shards").glob("*.sqlite")) == ["shard-0-of-2.sqlite", "shard-1-of-2.sqlite"]
    assert _items(out) == _items(baseline)
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["metrics"] == json.loads((baseline / "run.json").read_text())["metrics"]
    # merge has no command line of its own: where the items ran comes from the shards
    assert (run["env"]["device"], run["env"]["dtype"], run["env"]["tf32"]) == ("cpu", "fp32", False)


def test_torchrun_two_processes_match_one_worker(tmp_path, baseline):
    out = tmp_path / "torchrun"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531",
                "-m", "dive_bench"]
    _cli(out, launcher=launcher)
    subprocess.run([sys.executable, "-m", "dive_bench", "merge", str(out)], env=ENV, check=True,
                   capture_output=True, timeout=300)
    assert sorted(p.name for p in (out / "shards").glob("*.sqlite")) == ["shard-0-of-2.sqlite", "shard-1-of-2.sqlite"]
    assert _items(out) == _items(baseline)


def test_shard_resolution_from_environment():
    from dive_bench.run.score import resolve_shard

    assert resolve_shard(None, {}) == (0, 1)
    assert resolve_shard("2/4", {"RANK": "0", "WORLD_SIZE": "8"}) == (2, 4)
    assert resolve_shard(None, {"RANK": "3", "WORLD_SIZE": "8"}) == (3, 8)
    assert resolve_shard(None, {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_COUNT": "6",
                                "SLURM_ARRAY_TASK_MIN": "1"}) == (4, 6)
    from dive_bench.errors import DiveBenchError
    with pytest.raises(DiveBenchError, match="K/N"):
        resolve_shard("3", {})
    with pytest.raises(DiveBenchError, match="out of range"):
        resolve_shard("4/4", {})


def test_resume_with_another_worker_count_recomputes_nothing(tmp_path, baseline):
    """A run finished (or half finished) by one worker and resumed by two shards: the items already
    in the folder are not computed again, whatever shard file holds them."""
    import shutil

    out = tmp_path / "regrouped"
    shutil.copytree(baseline, out)
    for k in (0, 1):
        _cli(out, "--shard", f"{k}/2")
    counts = {p.name: sqlite3.connect(p).execute("SELECT COUNT(*) FROM items").fetchone()[0]
              for p in (out / "shards").glob("*.sqlite")}
    assert counts == {"shard-0-of-1.sqlite": 12, "shard-0-of-2.sqlite": 0, "shard-1-of-2.sqlite": 0}
    assert _items(out) == _items(baseline)
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
