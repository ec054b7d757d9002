"""run.json on disk: written atomically (temp file + fsync + replace, so readers see either the
old or the complete new file, never half of one) and read back with one line saying why a file is
not a run.json.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from pathlib import Path

from dive_bench.errors import DiveBenchError
from dive_bench.util.files import oneline as _oneline


def write_json_atomic(path: Path, payload: dict, *, intact: str | None = None) -> None:
    """Write JSON so that ``path`` is always either the old or the complete new file.

    ``intact`` says what a failure leaves intact and how to retry (default: the run folder's
    shards, and ``dive-bench merge``)."""
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
        with contextlib.suppress(OSError):  # on a read-only mount the cleanup fails too
            tmp.unlink(missing_ok=True)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            why = f"{path.parent} is read-only or not writable ({exc.strerror})"
            fix = (intact or "the previous file and all item results are intact (the shards are only read). Make the "
                   "folder writable, or copy the run folder somewhere writable and run `dive-bench merge` on the copy")
        elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
            why = f"{path.parent} does not exist or is not a folder ({exc.strerror})"
            fix = intact or "the previous file and all item results are intact. Check the path and run `dive-bench merge`"
        else:
            why = _oneline(exc)
            fix = intact or ("the previous file and all item results are intact. Free disk space and run "
                             "`dive-bench merge` on the folder")
        raise DiveBenchError(f"could not write {path}: {why}; {fix}") from exc


RUN_KEYS = {"model": str, "task": str, "method": str, "metrics": dict}


def read_run_json(path: Path) -> dict:
    """A run.json as a dict, or one DiveBenchError saying why ``path`` is not one (unreadable,
    binary, not JSON, not a JSON object, or missing model/task/method/metrics)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DiveBenchError(f"cannot read {path} ({exc.strerror or _oneline(exc)}); pass a run.json file or the "
                             "--out folder of a score run") from exc
    try:
        run = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise DiveBenchError(f"{path} is not a dive_bench run.json (a binary file, not JSON text); pass the run.json "
                             "that `dive-bench score` or `merge` wrote") from exc
    except RecursionError:  # a hostile file nested thousands of levels deep: json gives up, in one line here
        raise DiveBenchError(f"{path} is not a dive_bench run.json (JSON nested too deeply to read, which no run.json "
                             "is); rerun `dive-bench merge` on its folder to rewrite it") from None
    except ValueError as exc:
        raise DiveBenchError(f"{path} is not a dive_bench run.json (not valid JSON: {_oneline(exc)}); rerun "
                             "`dive-bench merge` on its folder to rewrite it") from exc
    if not isinstance(run, dict):
        raise DiveBenchError(f"{path} is not a dive_bench run.json (it holds a JSON {type(run).__name__}, not an "
                             "object); pass the run.json that `dive-bench score` or `merge` wrote")
    bad = [k for k, t in RUN_KEYS.items() if not isinstance(run.get(k), t)]
    if bad:
        raise DiveBenchError(f"{path} is not a dive_bench run.json (missing or malformed {'/'.join(bad)}); pass the "
                             "run.json that `dive-bench score` or `merge` wrote")
    return run
