"""Result storage: one SQLite file per worker, one row per item, and an atomic run.json.

Why SQLite per worker: every finished item is committed on its own, so a killed job loses at most
the item in flight, and workers never contend for one file. ``INSERT OR IGNORE`` on the item id
makes a re-run idempotent. ``run.json`` is written last, through a temp file + fsync + replace,
so readers see either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Iterator

from .errors import DiveBenchError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id INTEGER PRIMARY KEY,
    result TEXT NOT NULL,
    seconds REAL NOT NULL,
    created TEXT NOT NULL DEFAULT (datetime('now'))
);
"""


class ShardStore:
    """The items one worker finished, in ``DIR/shards/shard-K-of-N.sqlite``."""

    def __init__(self, path: Path, run_key: str, spec: dict) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='run_key'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise DiveBenchError(f"result shard {self.path} is not a readable SQLite file ({exc}); "
                                 "move it away to start this shard again") from exc
        if row is None:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('run_key', ?), ('spec', ?)", (run_key, json.dumps(spec, sort_keys=True)))
        elif row[0] != run_key:
            raise DiveBenchError(
                f"{self.path.parent.parent} holds results of a different run (key {row[0][:12]}, this run "
                f"{run_key[:12]}): task, items, checkpoint, method config or seed differ. Use another --out")

    def done_ids(self) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT item_id FROM items")}

    def put(self, item_id: int, result: dict, seconds: float) -> None:
        with self.db:  # one transaction per item: committed before the next item starts
            self.db.execute("INSERT OR IGNORE INTO items (item_id, result, seconds) VALUES (?, ?, ?)",
                            (int(item_id), json.dumps(result, sort_keys=True), float(seconds)))

    def close(self) -> None:
        self.db.close()


def iter_results(out_dir: Path, run_key: str) -> Iterator[tuple[int, dict, float]]:
    """Union of all shards under ``out_dir`` for ``run_key`` (duplicate ids keep the first)."""
    seen: set[int] = set()
    for shard in sorted((Path(out_dir) / "shards").glob("*.sqlite")):
        db = sqlite3.connect(shard)
        try:
            key = db.execute("SELECT value FROM meta WHERE key='run_key'").fetchone()
            if key is None or key[0] != run_key:
                continue
            for item_id, result, seconds in db.execute("SELECT item_id, result, seconds FROM items ORDER BY item_id"):
                if item_id not in seen:
                    seen.add(item_id)
                    yield item_id, json.loads(result), seconds
        finally:
            db.close()


def write_json_atomic(path: Path, payload: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
