"""What went wrong with a result shard, in one line: every SQLite error on a shard is classified
(hot journal, lock, read-only, full disk, or corruption confirmed by ``integrity_check``), because
each has its own fix and only the last one loses items. ``store`` raises these; so does anything
else that opens a shard.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dive_bench.errors import DiveBenchError
from dive_bench.util.files import oneline as _oneline


def sqlite_uri(path: Path, mode: str) -> str:
    """An SQLite URI for ``path``: percent-quoted, so '#', '?' and '%' in a folder name stay part of
    the path (unquoted, SQLite cuts the path there, drops ``mode`` and creates a stray file)."""
    return f"{Path(path).absolute().as_uri()}?mode={mode}"


def _problems(rows: list[tuple]) -> str | None:
    """integrity_check's answer on one line (its rows span lines; the database header is noise)."""
    found = [" ".join(str(r[0]).replace("*** in database main ***", "").split()) for r in rows if r[0] != "ok"]
    found = [f for f in found if f]
    return "; ".join(found[:2])[:200] if found else None


def _errname(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", None)
    if name:
        return name
    text = str(exc).lower()
    for needle, guess in (("locked", "SQLITE_BUSY"), ("readonly", "SQLITE_READONLY"), ("full", "SQLITE_FULL"),
                          ("disk i/o", "SQLITE_IOERR"), ("malformed", "SQLITE_CORRUPT"),
                          ("not a database", "SQLITE_NOTADB"), ("unable to open", "SQLITE_CANTOPEN")):
        if needle in text:
            return guess
    return "SQLITE_ERROR"


def _integrity(path: Path) -> tuple[bool | None, str | None]:
    """``(True, None)`` when ``PRAGMA integrity_check`` passes on ``path`` (opened read-only),
    ``(False, what it found)`` when it fails or SQLite cannot read the file as a database at all,
    ``(None, None)`` when it could not run (a lock, permissions, a hot journal)."""
    try:
        db = sqlite3.connect(sqlite_uri(path, "ro"), uri=True, timeout=5)
        try:
            rows = db.execute("PRAGMA integrity_check(5)").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if _errname(exc).startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return False, _oneline(exc)
        return None, None
    found = _problems(rows)
    return (False, found) if found else (True, None)


def shard_error(path: Path, exc: Exception, *, owner: bool) -> DiveBenchError:
    """One line for an SQLite error on a result shard: a hot journal, a lock, a read-only or full
    disk, or real corruption (confirmed by ``integrity_check``) are different problems with
    different fixes, and only the last one loses items."""
    path = Path(path)
    name, detail = _errname(exc), _oneline(exc)
    rerun = ("rerun the same command" if owner
             else "rerun the score command of that shard's worker")
    if name == "SQLITE_READONLY_ROLLBACK" or (name.startswith("SQLITE_READONLY") and
                                               path.with_name(path.name + "-journal").exists()):
        return DiveBenchError(
            f"result shard {path} has a hot journal (its worker was killed in the middle of a commit), and rolling "
            f"it back needs write access to {path.parent}, which this process lacks; the shard is not corrupt and "
            f"every committed item in it is intact. Make the folder writable and {rerun} (or `dive-bench merge`), "
            "which rolls the journal back; do not delete the shard or its -journal file")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DiveBenchError(
            f"result shard {path} is locked by another process ({detail}); the shard is not corrupt. Wait for the "
            f"process writing it to finish (or stop it) and {rerun}")
    if name.startswith("SQLITE_CANTOPEN"):
        return DiveBenchError(
            f"could not open result shard {path} ({detail}); check that it exists and that its folder's permissions "
            f"allow it, then {rerun}")
    if name.startswith("SQLITE_READONLY"):
        return DiveBenchError(
            f"could not write to result shard {path} ({detail}); the folder or file is not writable. Items committed "
            f"before are kept; fix permissions (or --out) and {rerun} to resume")
    if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
        return DiveBenchError(
            f"could not write to result shard {path} ({detail}); items committed before are kept. "
            f"Free disk space (or fix permissions) and {rerun} to resume")
    healthy, found = _integrity(path)
    if healthy or (healthy is None and not name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))):
        checked = "integrity_check finds no damage" if healthy else "integrity_check could not run"
        return DiveBenchError(f"result shard {path} could not be read ({detail}); {checked}, so it is not known to be "
                              f"corrupt and nothing was changed: {rerun}")
    found = found or detail
    if name == "SQLITE_NOTADB" or "not a database" in found:
        what = f"not a readable SQLite file: {found}"
    else:
        what = f"integrity_check: {found}"
    return DiveBenchError(
        f"result shard {path} is corrupt or truncated ({what}); the other shards are unaffected. Move it away "
        f"(mv {path} {path}.corrupt) and {rerun} to recompute the items it held")


def _disk_error(path: Path, exc: Exception) -> DiveBenchError:
    return shard_error(path, exc, owner=True)
