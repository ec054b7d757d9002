"""Result storage under damage and odd places (issue 12): every case ends in one line, exit 2,
and the committed items stay where they are (or come back)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dive_bench.store import shards as store
from cli_checks import cli_error as _cli_error
from cli_checks import digest as _digest
from cli_checks import immutable as _immutable
from cli_checks import one_line as _one_line
from factories import SHARD_ITEMS as N_ITEMS
from factories import run_json
from factories import shard_store as _store
from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.store.shards import (claim_worker_count, collect, done_in_other_shards, read_run_json,
                              shard_path, write_json_atomic)


def _filled(out: Path, items=range(N_ITEMS), k: int = 0, n: int = 1) -> Path:
    s = _store(out, k, n)
    s.put_many([(i, {"prediction": i % 10, "label": i % 10, "evaluations": 5}, 0.1) for i in items])
    s.close()
    return shard_path(out, k, n)


def _rows(path: Path) -> set[int]:
    db = sqlite3.connect(path)
    try:
        return {r[0] for r in db.execute("SELECT item_id FROM items")}
    finally:
        db.close()


# A worker killed in the middle of a commit: a big transaction spills pages into the shard file,
# then the process is SIGKILLed, which leaves the shard with a hot journal.
_KILL_MID_COMMIT = """
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA cache_size=2")
db.execute("BEGIN")
db.executemany("INSERT INTO items (item_id, result, seconds) VALUES (?, ?, ?)",
               [(i, '{"prediction": 0, "pad": "%s"}' % ("y" * 3000), 0.1) for i in range(1000, 3000)])
os.kill(os.getpid(), signal.SIGKILL)
"""


def _kill_mid_commit(shard: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILL_MID_COMMIT, str(shard)], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    journal = shard.with_name(shard.name + "-journal")
    assert journal.exists() and journal.stat().st_size > 0
    # what made merge call the shard corrupt: a read-only connection cannot roll a hot journal back
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        db = sqlite3.connect(store.sqlite_uri(shard, "ro"), uri=True)
        try:
            db.execute("SELECT COUNT(*) FROM items").fetchone()
        finally:
            db.close()


@contextlib.contextmanager
def _read_only_view(src: Path, dst: Path):
    """``dst``: a read-only bind mount of ``src`` (root only; the test is skipped elsewhere)."""
    dst.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True).returncode != 0:
        pytest.skip("needs root and mount --bind")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(dst)], capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only")
        yield dst
    finally:
        if subprocess.run(["umount", str(dst)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(dst)], capture_output=True)  # a file left open: detach anyway


# -- 1. hot journal ---------------------------------------------------------------------------------------------

def test_hot_journal_is_rolled_back_by_merge_not_called_corrupt(tmp_path, capsys):
    out = tmp_path / "run"
    shard = _filled(out)
    _kill_mid_commit(shard)
    assert main(["merge", str(out)]) == 0, capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert run["n_done"] == N_ITEMS and run["status"] == "complete"
    assert not shard.with_name(shard.name + "-journal").exists()
    assert _rows(shard) == set(range(N_ITEMS))  # every committed item, none of the killed transaction
    db = sqlite3.connect(shard)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_hot_journal_in_another_shard_counts_for_resume(tmp_path):
    """A worker resuming with another worker count skips what a killed worker committed."""
    out = tmp_path / "run"
    other = _filled(out, range(0, 8), k=0, n=1)
    _kill_mid_commit(other)
    mine = _store(out, 0, 2)
    assert done_in_other_shards(out, "k1", mine.path) == set(range(8))
    mine.close()


def test_hot_journal_in_a_read_only_folder_says_so(tmp_path, capsys):
    src = tmp_path / "run"
    shard = _filled(src)
    _kill_mid_commit(shard)
    before = _digest(shard.parent)
    with _read_only_view(src, tmp_path / "ro") as ro:
        err = _cli_error(capsys, ["merge", str(ro)])
        assert "hot journal" in err and "not corrupt" in err and "intact" in err
        assert "is corrupt" not in err
    assert _digest(shard.parent) == before
    assert sorted(collect(src).results) == list(range(N_ITEMS))  # where it can be written, it comes back


# -- 2. '#', '?' and '%' in --out -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["run#1", "what?mode=rw", "100%25done", "a b#c?d%e"])
def test_out_with_uri_characters(tmp_path, capsys, name):
    out = tmp_path / name
    _filled(out, range(0, 20), k=0, n=2)
    _filled(out, range(20, 40), k=1, n=2)
    mine = _store(out, 0, 4)
    assert done_in_other_shards(out, "k1", mine.path) == set(range(N_ITEMS))
    mine.close()
    assert main(["merge", str(out)]) == 0, capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["n_done"] == N_ITEMS
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no stray file where the path was cut
    assert sorted(p.name for p in (out / "shards").glob("*.sqlite")) == [
        "shard-0-of-2.sqlite", "shard-0-of-4.sqlite", "shard-1-of-2.sqlite"]


# -- 3. workers of different counts at the same time --------------------------------------------------------------

def test_workers_of_another_count_are_refused_while_alive(tmp_path):
    out = tmp_path / "run"
    a = _store(out, 0, 2)
    b = _store(out, 1, 2)  # the same count: fine
    with pytest.raises(DiveBenchError, match="another worker count") as exc:
        _store(out, 0, 1)
    msg = _one_line(str(exc.value))
    assert "--shard K/2" in msg and str(out) in msg
    assert not shard_path(out, 0, 1).exists()  # refused before it created anything
    a.close()
    with pytest.raises(DiveBenchError, match="another worker count"):
        _store(out, 0, 1)  # one worker of count 2 is still alive
    b.close()
    c = _store(out, 0, 1)  # none alive: resuming with another count is supported
    with pytest.raises(DiveBenchError, match="another worker count"):
        _store(out, 0, 3)
    c.close()


def test_worker_count_claim_across_processes(tmp_path):
    out = tmp_path / "run"
    (out / "shards").mkdir(parents=True)
    code = ("import sys, time; from dive_bench.store.shards import claim_worker_count; "
            "c = claim_worker_count(sys.argv[1], 2); print('ok', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ok"
        with pytest.raises(DiveBenchError, match="another worker count"):
            claim_worker_count(out, 1)
    finally:
        proc.kill()
        proc.wait()
    claim_worker_count(out, 1).release()  # the killed worker's claim went with it


# -- 4. damaged pages, corrupt and locked shards ---------------------------------------------------------------

def _damage_a_page(shard: Path) -> None:
    data = bytearray(shard.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    assert len(data) >= 6 * page
    data[3 * page: 4 * page] = b"\xa5" * page  # a b-tree page of the items table
    shard.write_bytes(bytes(data))


def test_damaged_page_on_resume_is_one_line_and_keeps_the_file(tmp_path, capsys):
    out = tmp_path / "run"
    s = _store(out)
    s.put_many([(i, {"prediction": i, "label": i, "pad": "x" * 2000}, 0.1) for i in range(N_ITEMS)])
    s.close()
    shard = shard_path(out, 0, 1)
    _damage_a_page(shard)
    before = _digest(shard.parent)
    with pytest.raises(DiveBenchError) as exc:
        _store(out)
    msg = _one_line(str(exc.value))
    assert str(shard) in msg and "corrupt" in msg and "integrity_check" in msg and "mv " in msg
    err = _cli_error(capsys, ["merge", str(out)])
    assert str(shard) in err and "corrupt or truncated" in err
    assert _digest(shard.parent) == before  # never rewritten or deleted behind the user's back


def test_not_a_database_is_called_corrupt(tmp_path, capsys):
    out = tmp_path / "run"
    shard = shard_path(out, 0, 1)
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(DiveBenchError, match="not a readable SQLite file"):
        _store(out)
    err = _cli_error(capsys, ["merge", str(out)])
    assert "corrupt or truncated" in err and str(shard) in err


def test_locked_shard_is_not_called_corrupt(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    shard = _filled(out)
    monkeypatch.setattr(store, "READ_TIMEOUT_SECONDS", 0.2)
    holder = sqlite3.connect(shard, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process in the middle of writing it
    try:
        err = _cli_error(capsys, ["merge", str(out)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "locked" in err and "not corrupt" in err and "is corrupt" not in err
    assert sorted(collect(out).results) == list(range(N_ITEMS))


def test_an_error_on_a_healthy_shard_is_diagnosed_by_integrity_check(tmp_path):
    shard = _filled(tmp_path / "run")
    msg = str(store.shard_error(shard, sqlite3.DatabaseError("database disk image is malformed"), owner=False))
    assert "integrity_check finds no damage" in msg and "is corrupt" not in msg and "not known to be corrupt" in msg


# -- 5. merge on a read-only mount ------------------------------------------------------------------------------

def test_merge_on_a_read_only_mount(tmp_path, capsys):
    src = tmp_path / "run"
    _filled(src)
    before = _digest(src / "shards")
    with _read_only_view(src, tmp_path / "ro") as ro:
        err = _cli_error(capsys, ["merge", str(ro)])
        assert "run.json" in err and "read-only" in err and "intact" in err
        assert not (ro / "run.json").exists()
    assert _digest(src / "shards") == before


def test_write_json_atomic_survives_a_failing_cleanup(tmp_path, monkeypatch):
    """On a read-only mount the temp file cannot be removed either; that must not replace the
    one-line error with a traceback."""
    import errno

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(Path, "unlink", read_only)
    monkeypatch.setattr("builtins.open", read_only)
    with pytest.raises(DiveBenchError, match="read-only") as exc:
        write_json_atomic(tmp_path / "run.json", {"a": 1})
    assert "intact" in _one_line(str(exc.value))


# -- 6. run.json readers ----------------------------------------------------------------------------------------

def _good_run(path: Path) -> Path:
    path.write_text(json.dumps(run_json(model="m", task="digits", method="dive", method_config={}, n_items=2,
                                        metrics={"accuracy": {"value": 0.5, "ci_low": 0.4, "ci_high": 0.6}})))
    return path


@pytest.mark.parametrize("content,phrase", [
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary", "binary"),
    (b"[]", "not an object"),
    (b'{"model": "m", "task": "digits"}', "missing or malformed method/metrics"),
    (b'{"model": "m", "task": "t", "method": "dive", "metrics": []}', "metrics"),
    (b"{not json", "not valid JSON"),
])
def test_leaderboard_and_check_refuse_what_is_not_a_run(tmp_path, capsys, content, phrase):
    bad = tmp_path / "run.json"
    bad.write_bytes(content)
    good = _good_run(tmp_path / "good.json")
    for argv in (["leaderboard", str(bad)], ["check", str(bad), "--baseline", str(good)],
                 ["check", str(good), "--baseline", str(tmp_path)]):
        err = _cli_error(capsys, argv)
        assert f"{bad} is not a dive_bench run.json" in err and phrase in err, err
    with pytest.raises(DiveBenchError, match="not a dive_bench run.json"):
        read_run_json(bad)


def test_leaderboard_out_in_unwritable_places(tmp_path):
    from dive_bench.report.leaderboard import write_leaderboard

    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "a-file").write_text("x")
    targets = [Path("/proc/dive-bench-leaderboard.md"), tmp_path, tmp_path / "a-file" / "lb.md"]
    with _immutable(locked):
        for target in targets + [locked / "lb.md"]:
            with pytest.raises(DiveBenchError, match="cannot write the leaderboard") as exc:
                write_leaderboard(target, "# table\n")
            assert str(target) in _one_line(str(exc.value))
    write_leaderboard(tmp_path / "new" / "lb.md", "# table\n")
    assert (tmp_path / "new" / "lb.md").read_text() == "# table\n"


# -- 10. --out that cannot hold results (score) -----------------------------------------------------------------

def test_score_out_that_cannot_hold_results(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    cases = [(a_file, "existing file"), (a_file / "sub", "existing file"),
             (Path("/proc/dive-bench-out"), "cannot be created")]
    for out, phrase in cases:
        with pytest.raises(DiveBenchError) as exc:
            _store(out)
        msg = _one_line(str(exc.value))
        assert f"--out {out}" in msg and phrase in msg and "folder you can write to" in msg
    assert a_file.read_text() == "not a folder"


def test_score_out_immutable_or_read_only(tmp_path):
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    with _immutable(fresh):
        with pytest.raises(DiveBenchError, match="cannot be created") as exc:
            _store(fresh)
        assert "--out" in _one_line(str(exc.value))
    resumed = tmp_path / "resumed"
    _filled(resumed)
    before = _digest(resumed / "shards")
    with _immutable(resumed / "shards"):
        with pytest.raises(DiveBenchError, match="not writable"):
            _store(resumed)
    assert _digest(resumed / "shards") == before
    src = tmp_path / "src"
    src.mkdir()
    with _read_only_view(src, tmp_path / "ro") as ro:
        with pytest.raises(DiveBenchError, match="Read-only file system"):
            _store(ro / "run")


def test_score_cli_refuses_an_out_file_before_compute(tmp_path, capsys, monkeypatch):
    import dive_bench.run.score as runner

    a_file = tmp_path / "a-file"
    a_file.write_text("x")

    def no_compute(*args, **kwargs):
        raise AssertionError("computed items with an unusable --out")

    monkeypatch.setitem(runner.METHODS, "dive", dataclasses.replace(runner.METHODS["dive"], run=no_compute))
    err = _cli_error(capsys, ["score", "dit-digits-xs", "--task", "digits", "--limit", "2", "--quiet",
                              "--out", str(a_file)])
    assert f"--out {a_file}" in err and "existing file" in err
