"""Result storage: one SQLite file per worker, one row per item, and an atomic run.json.

Why SQLite per worker: every finished batch of items is committed in one transaction, so a killed
job loses at most the batch in flight, and workers never contend for one file. ``INSERT OR
IGNORE`` on the item id makes a re-run idempotent. Each shard holds the run key and spec, so
``merge`` can rebuild run.json from the shards alone. ``run.json`` is written last, through a
temp file + fsync + replace, so readers see either the old or the new file, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .errors import DiveBenchError

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


def shard_path(out_dir: Path, k: int, n: int) -> Path:
    return Path(out_dir) / "shards" / f"shard-{k}-of-{n}.sqlite"


def _disk_error(path: Path, exc: Exception) -> DiveBenchError:
    return DiveBenchError(f"could not write to result shard {path} ({exc}); items committed before are kept. "
                          "Free disk space (or fix permissions) and rerun the same command to resume")


class ShardStore:
    """The items one worker finished. Holds an exclusive lock on the shard while open."""

    def __init__(self, path: Path, run_key: str, spec: dict, model_info: dict) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.path.with_suffix(".lock"), "a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock_file.close()
            raise DiveBenchError(f"result shard {self.path} is being written by another process; run each "
                                 "--shard K/N once at a time (or wait for the other run to finish)") from exc
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='run_key'").fetchone()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise DiveBenchError(f"result shard {self.path} is not a readable SQLite file ({exc}); move it away "
                                 "to recompute this shard (the other shards are unaffected)") from exc
        if row is None:
            try:
                with self.db:
                    self.db.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("run_key", run_key), ("spec", json.dumps(spec, sort_keys=True)),
                        ("model_info", json.dumps(model_info, sort_keys=True))])
            except sqlite3.OperationalError as exc:
                self.close()
                raise _disk_error(self.path, exc) from exc
        elif row[0] != run_key:
            self.close()
            raise DiveBenchError(
                f"{self.path.parent.parent} holds results of a different run (key {row[0][:12]}, this run "
                f"{run_key[:12]}): task, items, checkpoint, method config, seed or precision (--dtype, --tf32) differ. Use another --out")

    def done_ids(self) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT item_id FROM items")}

    def failed_ids(self) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT item_id FROM errors")}

    def put_many(self, rows: list[tuple[int, dict, float]]) -> None:
        """Commit finished items in one transaction (a batch is all-or-nothing on disk)."""
        try:
            with self.db:
                self.db.executemany("INSERT OR IGNORE INTO items (item_id, result, seconds) VALUES (?, ?, ?)",
                                    [(int(i), json.dumps(r, sort_keys=True), float(s)) for i, r, s in rows])
                self.db.executemany("DELETE FROM errors WHERE item_id = ?", [(int(i),) for i, _, _ in rows])
        except sqlite3.OperationalError as exc:
            raise _disk_error(self.path, exc) from exc

    def put_error(self, item_id: int, message: str, traceback: str) -> None:
        try:
            with self.db:
                self.db.execute(
                    "INSERT INTO errors (item_id, message, traceback) VALUES (?, ?, ?) ON CONFLICT(item_id) DO "
                    "UPDATE SET message=excluded.message, traceback=excluded.traceback, attempts=attempts+1",
                    (int(item_id), message, traceback))
        except sqlite3.OperationalError as exc:
            raise _disk_error(self.path, exc) from exc

    def close(self) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
            self.db = None
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()


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
    for path in paths:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            items = db.execute("SELECT item_id, result, seconds FROM items ORDER BY item_id").fetchall()
            errors = db.execute("SELECT item_id, message FROM errors").fetchall()
            db.close()
        except sqlite3.DatabaseError as exc:
            raise DiveBenchError(f"result shard {path} is corrupt or truncated ({exc}); move it away and rerun "
                                 "that shard to recompute its items (other shards are kept)") from exc
        if "run_key" not in meta:
            continue  # a shard another worker is creating right now (or one killed before its first write)
        if merged is None:
            merged = Collected(meta["run_key"], json.loads(meta["spec"]), json.loads(meta["model_info"]), {}, {}, [])
        elif meta["run_key"] != merged.run_key:
            raise DiveBenchError(f"{out_dir} mixes shards of different runs ({path.name} has key "
                                 f"{meta['run_key'][:12]}, others {merged.run_key[:12]}); keep one run per folder")
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


def done_in_other_shards(out_dir: Path, run_key: str, own: Path) -> set[int]:
    """Items of this run already finished in shard files other than ``own``: a run resumed with a
    different worker count (2 GPUs, then 4) must not compute them again. Shards of another run or
    unreadable ones are skipped here; ``collect`` (merge) is where they are refused."""
    done: set[int] = set()
    for path in sorted((Path(out_dir) / "shards").glob("*.sqlite")):
        if path.resolve() == Path(own).resolve():
            continue
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                row = db.execute("SELECT value FROM meta WHERE key='run_key'").fetchone()
                if row is not None and row[0] == run_key:
                    done.update(r[0] for r in db.execute("SELECT item_id FROM items"))
            finally:
                db.close()
        except sqlite3.DatabaseError:
            continue
    return done


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON so that ``path`` is always either the old or the complete new file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DiveBenchError(f"could not write {path} ({exc}); the previous file and all item results are "
                             "intact. Free disk space and run `dive-bench merge` on the folder") from exc
