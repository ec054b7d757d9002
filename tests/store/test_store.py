"""Result shards: idempotent writes, locking, corrupt files, full disk, atomic run.json."""

from __future__ import annotations

import errno
import json
import os

import pytest

from dive_bench.errors import DiveBenchError
from dive_bench.store.shards import collect, shard_path, write_json_atomic
from factories import shard_store as _store



def test_put_is_idempotent_and_collect_unions_shards(tmp_path):
    a = _store(tmp_path, k=0, n=2)
    a.put_many([(0, {"prediction": 1}, 0.5), (2, {"prediction": 3}, 0.5)])
    a.put_many([(0, {"prediction": 9}, 0.1)])  # a duplicate never overwrites a committed item
    a.close()
    b = _store(tmp_path, k=1, n=2)
    b.put_error(1, "ValueError: boom", "Traceback ...")
    b.put_error(1, "ValueError: boom again", "Traceback ...")
    b.put_many([(3, {"prediction": 0}, 0.2)])
    b.close()
    c = collect(tmp_path)
    assert sorted(c.results) == [0, 2, 3] and c.results[0][0] == {"prediction": 1}
    assert c.errors == {1: "ValueError: boom again"}
    assert c.shards == ["shard-0-of-2.sqlite", "shard-1-of-2.sqlite"]


def test_success_clears_an_earlier_error(tmp_path):
    s = _store(tmp_path)
    s.put_error(2, "RuntimeError: x", "tb")
    assert s.failed_ids() == {2}
    s.put_many([(2, {"prediction": 0}, 1.0)])
    assert s.failed_ids() == set() and s.done_ids() == {2}
    s.close()


def test_other_run_in_same_folder_is_refused(tmp_path):
    _store(tmp_path, key="k1").close()
    with pytest.raises(DiveBenchError, match="different run"):
        _store(tmp_path, key="k2")


def test_concurrent_writer_on_same_shard_is_refused(tmp_path):
    first = _store(tmp_path)
    first.put_many([(0, {"prediction": 1}, 0.1)])
    with pytest.raises(DiveBenchError, match="being written by another process"):
        _store(tmp_path)
    first.put_many([(1, {"prediction": 1}, 0.1)])  # the first writer is unaffected
    first.close()
    again = _store(tmp_path)  # the lock is released on close
    assert again.done_ids() == {0, 1}
    again.close()


def test_corrupt_shard_is_a_clear_error_and_kept(tmp_path):
    path = shard_path(tmp_path, 0, 1)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DiveBenchError, match="not a readable SQLite file"):
        _store(tmp_path)
    with pytest.raises(DiveBenchError, match="corrupt or truncated"):
        collect(tmp_path)
    assert path.read_bytes().startswith(b"this is not sqlite")  # never deleted behind the user's back


def test_truncated_shard_is_a_clear_error(tmp_path):
    s = _store(tmp_path)
    s.put_many([(i, {"prediction": i, "pad": "x" * 3000}, 0.1) for i in range(40)])
    s.close()
    path = shard_path(tmp_path, 0, 1)
    path.write_bytes(path.read_bytes()[:6000])
    with pytest.raises(DiveBenchError, match="corrupt or truncated"):
        collect(tmp_path)


def test_full_disk_keeps_committed_items(tmp_path):
    s = _store(tmp_path)
    s.put_many([(0, {"prediction": 1}, 0.1)])
    pages = s.db.execute("PRAGMA page_count").fetchone()[0]
    s.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now answers SQLITE_FULL, as on a full disk
    with pytest.raises(DiveBenchError, match="Free disk space"):
        s.put_many([(i, {"prediction": 1, "pad": "x" * 5000}, 0.1) for i in range(1, 20)])
    s.close()
    assert sorted(collect(tmp_path).results) == [0]


def test_run_json_is_atomic_under_write_failure(tmp_path, monkeypatch):
    target = tmp_path / "run.json"
    write_json_atomic(target, {"status": "partial", "n_done": 3})

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(DiveBenchError, match="previous file and all item results are intact"):
        write_json_atomic(target, {"status": "complete", "n_done": 4})
    assert json.loads(target.read_text()) == {"status": "partial", "n_done": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]  # no temp file left behind


def test_run_key_survives_a_config_field_added_later():
    """A shard written before ``prior_probes`` existed has the same key as one written after, as
    long as the new field has the value that reproduces the old behaviour (1); other values differ."""
    from dive_bench.spec.configs import to_flat
    from dive_bench.inversion import DiveConfig
    from dive_bench.run.methods import LATER_FIELDS
    from dive_bench.run.score import run_key
    from dive_bench.tasks import TASKS

    task = TASKS.get("canvas-det")
    now = to_flat(DiveConfig.of(prior_weight=0.1))
    before = {k: v for k, v in now.items() if k not in LATER_FIELDS["dive"]}
    key = lambda cfg: run_key(task, [0, 1], "sha", "dive", cfg, 0)  # noqa: E731
    assert now["prior_probes"] == LATER_FIELDS["dive"]["prior_probes"] == 1
    assert key(before) == key(now)
    assert key({**now, "prior_probes": 8}) != key(now)
    assert key({**now, "prior_weight": 0.2}) != key(now)


def test_run_key_separates_precisions_and_keeps_stored_fp32_keys():
    """bf16 and TF32 change predictions, so they change the key; plain fp32 adds nothing. The key
    of a stored reference run (computed while runtime knobs were still part of keys) is one of the
    spec's legacy keys, so such a run still resumes and merges."""
    from pathlib import Path

    from dive_bench.run.score import run_key
    from dive_bench.spec.runspec import RunSpec
    from dive_bench.tasks import TASKS

    stored = json.loads((Path(__file__).resolve().parents[2] / "leaderboards/runs/layout-canvas-s-dive/run.json").read_text())
    args = (TASKS.get(stored["task"]), stored["items"]["ids"], stored["model_info"]["sha256"], stored["method"],
            stored["method_config"], stored["seed"])
    spec = RunSpec(stored["task"], stored["task_version"], tuple(stored["items"]["ids"]), stored["model_info"]["sha256"],
                   stored["method"], stored["method_config"], stored["seed"])
    assert run_key(*args) == run_key(*args, "fp32", False) == spec.key()
    assert stored["run_key"] in spec.legacy_keys() and spec.accepts(stored["run_key"])
    keys = {run_key(*args, dtype, tf32) for dtype, tf32 in (("fp32", False), ("fp32", True), ("bf16", False), ("fp16", False))}
    assert len(keys) == 4


def test_runtime_knobs_leave_the_key_and_every_stored_run_is_accepted():
    """Chunk sizes never change a number, so they are not in a run's key; every complete stored
    reference run is recognised by the spec rebuilt from its run.json (resume, merge)."""
    from pathlib import Path

    import dataclasses

    from dive_bench.spec.configs import canonical, flat_names, from_flat, to_flat
    from dive_bench.spec.runspec import RunSpec

    base = RunSpec("digits", "1", (0, 1), "sha", "enumerate", {"interval": 4, "batch_size": 250}, 0)
    other = RunSpec("digits", "1", (0, 1), "sha", "enumerate", {"interval": 4, "batch_size": 1000}, 0)
    assert base.key() == other.key() and base.legacy_keys() != other.legacy_keys()
    assert RunSpec("digits", "1", (0, 1), "sha", "enumerate", {"interval": 8, "batch_size": 250}, 0).key() != base.key()
    runs = sorted((Path(__file__).resolve().parents[2] / "leaderboards").rglob("run.json"))
    checked = 0
    for path in runs:
        run = json.loads(path.read_text())
        if run["method"] == "fidelity" or run["status"] != "complete":
            continue
        env = run.get("env", {})
        spec = RunSpec(run["task"], str(run["task_version"]), tuple(run["items"]["ids"]), run["model_info"]["sha256"],
                       run["method"], run["method_config"], run["seed"], env.get("dtype") or "fp32", bool(env.get("tf32")),
                       parameterization=run["model_info"].get("parameterization"))  # non-eps models: in the key
        assert spec.accepts(run["run_key"]), path
        # under the current option names (configs.STORED_NAMES) the key is the same; and the config
        # a resume builds (current names, every field filled in) is accepted, the first
        # Fashion-MNIST runs' included (their keys predate weighting and the prior: EARLY_FIELDS)
        renamed = dataclasses.replace(spec, config=canonical(run["method"], run["method_config"]))
        assert renamed.key() == spec.key(), path
        current = to_flat(from_flat(run["method"], run["method_config"]))
        assert set(current) == set(flat_names(run["method"]))
        assert dataclasses.replace(spec, config=current).accepts(run["run_key"]), path
        checked += 1
    assert checked >= 20
