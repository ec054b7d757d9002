"""Files on disk: where bundled assets are, whether a folder can take results, content hashes.

Low-level and dependency-free (no torch), so the store, the caches, the adapters and the feature
extractors share one implementation of each.
"""

from __future__ import annotations

import contextlib

import hashlib
import os
import tempfile
from pathlib import Path

#: the bundled checkpoints, feature extractors and layout priors (package data)
ASSETS = Path(__file__).resolve().parents[1] / "assets"  # dive_bench/assets


def oneline(exc: BaseException) -> str:
    """An exception's message on one line (its type name when it has none)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def dir_problem(path: Path, keep: bool = True) -> str | None:
    """Why ``path`` cannot serve as a folder to write results into (created if missing), or None.

    Tries for real (mkdir, then a probe file that is removed again): permission bits, read-only
    mounts, ``chattr +i``, /proc and full disks all answer the same way. ``keep=False``: the
    folders the check created are removed again (a check made before the run may still be
    refused leaves no empty ``--out`` behind)."""
    path = Path(path)
    created = [p for p in (path, *path.parents) if not p.exists() and not p.is_symlink()]
    try:
        return _dir_problem(path)
    finally:
        if not keep:
            for folder in created:  # deepest first; only what is still empty
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _dir_problem(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        for anc in (path, *path.parents):
            if anc.exists() or anc.is_symlink():
                if not anc.is_dir():
                    where = "" if anc == path else f"cannot be created: {anc} "
                    return f"{where}is an existing file, not a folder"
                break
        return f"cannot be created ({exc.strerror or oneline(exc)})"
    if not path.is_dir():
        return "is an existing file, not a folder"
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".dive-bench-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"is not writable ({exc.strerror or oneline(exc)})"
    return None


def file_sha256(path: str | Path) -> str:
    """sha256 of one file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_sha256(paths: list[Path]) -> str:
    """One hash over several files (sorted by name, then path, so a model with equally named files
    in sub-folders, e.g. its priors, hashes the same wherever it is copied)."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda q: (q.name, str(q))):
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()
