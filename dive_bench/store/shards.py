"""Result storage: one SQLite file per worker, one row per item, and an atomic run.json.

Why SQLite per worker: every finished batch of items is committed in one transaction, so a killed
job loses at most the batch in flight, and workers never contend for one file. ``INSERT OR
IGNORE`` on the item id makes a re-run idempotent. Each shard holds the run key and spec, so
``merge`` can rebuild run.json from the shards alone. ``run.json`` is written last, through a
temp file + fsync + replace, so readers see either the old or the new file, never half of one
(``run_json.write_json_atomic``).

Readers (``merge``, a finishing worker, a resume with another worker count) open a shard whose
owner is gone read-write, so that a hot journal left by a worker killed mid-commit is rolled back
instead of being mistaken for corruption (``read_shard``); every SQLite error is classified
(hot journal, lock, read-only, full disk, or corruption confirmed by ``integrity_check``) by
``shard_errors.shard_error``. Workers of one run must share one worker count while they run
(``shard_locks.WorkerCountClaim``).

The names that moved to shard_errors.py, shard_locks.py and run_json.py are still importable
from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from dive_bench.errors import DiveBenchError
from dive_bench.util.files import dir_problem
from dive_bench.util.files import oneline as _oneline
from dive_bench.spec.run_json import RUN_KEYS, read_run_json, write_json_atomic  # noqa: F401  (re-exported)
from dive_bench.store.errors import _disk_error, _errname, _problems, shard_error, sqlite_uri
from dive_bench.store.locks import LOCK_WAIT_SECONDS, WorkerCountClaim  # noqa: F401  (re-exported)
from dive_bench.store.locks import _flock_waiting, _open_lock, claim_worker_count

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id INTEGER PRIMARY KEY,
    result TEXT NOT NULL,
    seconds REAL NOT NULL,
    created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now'))
);
CREATE TABLE IF NOT EXISTS errors (
    item_id INTEGER PRIMARY KEY,
    message TEXT NOT NULL,
    traceback TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1
);
"""


_SHARD_NAME = re.compile(r"^shard-(\d+)-of-(\d+)\.sqlite$")
#: how long a reader waits on SQLite's own lock (a commit in flight) before calling a shard locked
READ_TIMEOUT_SECONDS = 30.0


def shard_path(out_dir: Path, k: int, n: int) -> Path:
    return Path(out_dir) / "shards" / f"shard-{k}-of-{n}.sqlite"


def check_out_dir(out_dir: Path, create: bool = True) -> None:
    """Refuse an ``--out`` that cannot hold results (a file, /proc, read-only, immutable), with
    one line, before any compute. ``ShardStore`` calls it; callers may call it earlier, with
    ``create=False`` so that a run refused later (a bad checkpoint) leaves no empty folder."""
    out_dir = Path(out_dir)
    problem = dir_problem(out_dir / "shards", keep=create)
    if problem:
        raise DiveBenchError(f"--out {out_dir} cannot hold results: {out_dir / 'shards'} {problem}; "
                             "pass --out a new or existing folder you can write to")


class ShardStore:
    """The items one worker finished. Holds an exclusive lock on the shard while open, and its
    place among the run's workers of the same count (see :class:`WorkerCountClaim`)."""

    def __init__(self, path: Path, run_key: str | tuple[str, ...], spec: dict, model_info: dict) -> None:
        """``run_key``: the run's protocol key (``RunSpec.protocol_key``), or a tuple of keys it may
        be stored under. A shard of the same protocol is reopened whatever items it holds (its
        spec then names this request's items: see :func:`collect`); a shard of another protocol
        is refused."""
        keys = (run_key,) if isinstance(run_key, str) else tuple(run_key)
        run_key = keys[0]
        self.path = Path(path)
        self.db = None
        self._claim = None
        self._lock_file = None
        check_out_dir(self.path.parent.parent)
        try:
            m = _SHARD_NAME.match(self.path.name)
            if m:
                self._claim = claim_worker_count(self.path.parent.parent, int(m.group(2)))
            self._lock_file = open(self.path.with_suffix(".lock"), "a+")
            try:
                # a reader (merge, a finishing worker) holds it for the milliseconds of a read
                _flock_waiting(self._lock_file, fcntl.LOCK_EX)
            except BlockingIOError as exc:
                raise DiveBenchError(f"result shard {self.path} is being written by another process; run each "
                                     "--shard K/N once at a time (or wait for the other run to finish)") from exc
        except OSError as exc:
            self.close()
            raise DiveBenchError(f"cannot lock result shard {self.path} ({_oneline(exc)}); pass --out a folder you "
                                 "can write to") from exc
        except BaseException:
            self.close()
            raise
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            # the first read rolls back a hot journal left by a worker killed mid-commit; then a damaged
            # page is found here, on resume, rather than in the middle of the run
            problems = _problems(self.db.execute("PRAGMA integrity_check(5)").fetchall())
            if problems:
                raise sqlite3.DatabaseError(problems)
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='run_key'").fetchone()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise shard_error(self.path, exc, owner=True) from exc
        if row is None:
            try:
                with self.db:
                    self.db.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("run_key", run_key), ("spec", json.dumps(spec, sort_keys=True)),
                        ("model_info", json.dumps(model_info, sort_keys=True)), ("updated", repr(time.time()))])
            except sqlite3.DatabaseError as exc:
                self.close()
                raise _disk_error(self.path, exc) from exc
        else:
            meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
            if row[0] not in keys and protocol_key_of(meta) not in keys:
                self.close()
                raise DiveBenchError(
                    f"{self.path.parent.parent} holds results of a different run (key {row[0][:12]}, this run "
                    f"{run_key[:12]}): task, checkpoint, method config, seed or precision (--dtype, --tf32) "
                    "differ. Use another --out")
            try:  # same protocol: this request's spec (its items) becomes the shard's
                with self.db:
                    self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                        ("spec", json.dumps(spec, sort_keys=True)), ("updated", repr(time.time()))])
            except sqlite3.DatabaseError as exc:
                self.close()
                raise _disk_error(self.path, exc) from exc

    def _ids(self, table: str) -> set[int]:
        try:
            return {r[0] for r in self.db.execute(f"SELECT item_id FROM {table}")}
        except sqlite3.DatabaseError as exc:
            raise shard_error(self.path, exc, owner=True) from exc

    def done_ids(self) -> set[int]:
        return self._ids("items")

    def failed_ids(self) -> set[int]:
        return self._ids("errors")

    def put_many(self, rows: list[tuple[int, dict, float]]) -> None:
        """Commit finished items in one transaction (a batch is all-or-nothing on disk)."""
        try:
            with self.db:
                self.db.executemany("INSERT OR IGNORE INTO items (item_id, result, seconds) VALUES (?, ?, ?)",
                                    [(int(i), json.dumps(r, sort_keys=True), float(s)) for i, r, s in rows])
                self.db.executemany("DELETE FROM errors WHERE item_id = ?", [(int(i),) for i, _, _ in rows])
        except sqlite3.DatabaseError as exc:
            raise _disk_error(self.path, exc) from exc

    def put_error(self, item_id: int, message: str, traceback: str) -> None:
        try:
            with self.db:
                self.db.execute(
                    "INSERT INTO errors (item_id, message, traceback) VALUES (?, ?, ?) ON CONFLICT(item_id) DO "
                    "UPDATE SET message=excluded.message, traceback=excluded.traceback, attempts=attempts+1",
                    (int(item_id), message, traceback))
        except sqlite3.DatabaseError as exc:
            raise _disk_error(self.path, exc) from exc

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
            self.db = None
        lock = getattr(self, "_lock_file", None)
        if lock is not None and not lock.closed:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
        claim = getattr(self, "_claim", None)
        if claim is not None:
            claim.release()
            self._claim = None


@contextlib.contextmanager
def read_shard(path: Path):
    """A connection for reading a shard someone else may own, closed afterwards.

    A worker killed in the middle of a commit leaves a hot journal, which SQLite must roll back
    before anyone reads the shard, and which a read-only connection cannot roll back (it reports
    "attempt to write a readonly database", which is not corruption: every committed item is
    still there). So: when the shard's owner is alive (it holds the shard's flock), its journal is
    never hot and a read-only connection is enough; otherwise the shard is opened read-write under
    a shared flock, so the first read rolls a hot journal back. In a folder we cannot write, a hot
    journal is reported as such (``shard_error``), never as a corrupt shard."""
    path = Path(path)
    lock = _open_lock(path)
    locked = False
    if lock is not None:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            locked = True
        except BlockingIOError:
            pass  # the owner is alive: its journal belongs to a transaction in flight, not a hot one
        except OSError:
            pass
    try:
        mode = "rw" if locked and os.access(path, os.W_OK) else "ro"
        for attempt in range(50):
            db = sqlite3.connect(sqlite_uri(path, mode), uri=True, timeout=READ_TIMEOUT_SECONDS)
            try:
                db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                break
            except sqlite3.OperationalError as exc:
                db.close()
                # an owner that just took its lock rolls its own hot journal back in a moment
                if mode == "ro" and not locked and lock is not None and _errname(exc) == "SQLITE_READONLY_ROLLBACK" \
                        and attempt < 49:
                    time.sleep(0.1)
                    continue
                raise
        try:
            yield db
        finally:
            db.close()
    finally:
        if lock is not None:
            if locked:
                fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()


@dataclass
class Collected:
    """Everything the shards of one run directory hold."""

    run_key: str
    spec: dict
    model_info: dict
    results: dict[int, tuple[dict, float]]
    errors: dict[int, str]
    shards: list[str]


def collect(out_dir: Path) -> Collected:
    """Union of all shards under ``out_dir``; refuses unreadable shards and mixed runs."""
    paths = sorted((Path(out_dir) / "shards").glob("*.sqlite"))
    if not paths:
        raise DiveBenchError(f"no result shards under {Path(out_dir) / 'shards'}; nothing to merge")
    merged: Collected | None = None
    first_protocol, newest = "", 0.0
    for path in paths:
        try:
            with read_shard(path) as db:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"meta", "items", "errors"} <= tables:
                    continue  # a shard another worker is creating right now (or one killed before its first write)
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                items = db.execute("SELECT item_id, result, seconds FROM items ORDER BY item_id").fetchall()
                errors = db.execute("SELECT item_id, message FROM errors").fetchall()
        except sqlite3.DatabaseError as exc:
            raise shard_error(path, exc, owner=False) from exc
        if "run_key" not in meta:
            continue  # a shard another worker is creating right now (or one killed before its first write)
        protocol, updated = protocol_key_of(meta), float(meta.get("updated") or 0)
        if merged is None:
            merged = Collected(canonical_key(meta), json.loads(meta["spec"]), json.loads(meta["model_info"]), {}, {}, [])
            first_protocol, newest = protocol, updated
        elif protocol != first_protocol:
            raise DiveBenchError(f"{out_dir} mixes shards of different runs ({path.name} has key "
                                 f"{protocol[:12]}, others {first_protocol[:12]}); keep one run per folder")
        elif updated > newest:  # the latest request names the items the run covers
            merged.run_key, merged.spec, newest = canonical_key(meta), json.loads(meta["spec"]), updated
        merged.shards.append(path.name)
        for item_id, result, seconds in items:
            merged.results.setdefault(item_id, (json.loads(result), seconds))
        for item_id, message in errors:
            merged.errors.setdefault(item_id, message)
    if merged is None:
        raise DiveBenchError(f"the shards under {out_dir} hold no run yet; wait for a worker to start")
    for item_id in merged.results:
        merged.errors.pop(item_id, None)
    return merged


def _stored_spec(meta: dict):
    """The ``RunSpec`` a shard stores (None for a spec that is no score run's, or unreadable)."""
    from dive_bench.spec.runspec import RunSpec

    try:
        spec = json.loads(meta["spec"])
        if spec.get("method") in ("dive", "enumerate"):
            return RunSpec.from_json(spec, json.loads(meta["model_info"]).get("sha256"))
    except (KeyError, TypeError, ValueError):
        pass
    return None


def protocol_key_of(meta: dict) -> str:
    """A shard's protocol key (``RunSpec.protocol_key``), recomputed from its stored spec, so
    shards written under any earlier key rule, or for other items of the same protocol, are
    recognised; a spec that is no score run's falls back to the stored key."""
    spec = _stored_spec(meta)
    return spec.protocol_key() if spec is not None else meta["run_key"]


def canonical_key(meta: dict) -> str:
    """A shard's run key under today's rule, recomputed from its stored spec (a shard written
    before runtime knobs left the key stores the older key; both name the same run)."""
    spec = _stored_spec(meta)
    return spec.key() if spec is not None else meta["run_key"]


def done_in_other_shards(out_dir: Path, run_key: str | tuple[str, ...], own: Path) -> set[int]:
    """Items of this run already finished in shard files other than ``own``: a run resumed with a
    different worker count (2 GPUs, then 4) must not compute them again. Shards of another run or
    unreadable ones are skipped here; ``collect`` (merge) is where they are refused."""
    done: set[int] = set()
    for path in sorted((Path(out_dir) / "shards").glob("*.sqlite")):
        if path.resolve() == Path(own).resolve():
            continue
        try:
            with read_shard(path) as db:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                keys = (run_key,) if isinstance(run_key, str) else run_key
                if "run_key" in meta and (meta["run_key"] in keys or protocol_key_of(meta) in keys):
                    done.update(r[0] for r in db.execute("SELECT item_id FROM items"))
        except sqlite3.DatabaseError:
            continue
    return done
