"""Add ``item_source`` (where a run's items' pixels come from; ``report/item_images.py`` reads it)
to stored run.json files written before ``merge`` recorded it.

Usage: python leaderboards/add_sources.py RUN_DIR_OR_ROOT...

Each argument is a run folder (holding run.json) or a folder searched recursively for run.json
files. A run gets ``TASKS.get(run["task"]).item_source()``, the value ``merge`` now writes: a
function of the task's stored name alone for the built-in tasks and ``generated:`` runs, so adding
it later records nothing the run did not already say. Runs that have one, fidelity runs (their
samples are found by their manifest), and tasks rebuilt from a hash (folder:, coco:, which have no
path) are left untouched; nothing else in a file changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dive_bench.spec.run_json import write_json_atomic
from dive_bench.tasks import TASKS


def run_files(args: list[str]) -> list[Path]:
    files: list[Path] = []
    for arg in args:
        path = Path(arg)
        files += [path / "run.json"] if (path / "run.json").is_file() else sorted(path.rglob("run.json"))
    return files


def add_source(path: Path) -> str:
    """What was done to ``path``, in a few words."""
    run = json.loads(path.read_text())
    if "item_source" in run:
        return "has item_source"
    if run.get("method") == "fidelity":
        return "fidelity run (samples found by manifest)"
    if run.get("task") not in TASKS:
        return f"unknown task {run.get('task')!r}"
    source = TASKS.get(run["task"]).item_source()
    if source is None:
        return "task has no files to name"
    run["item_source"] = source
    write_json_atomic(path, run)
    return f"added {json.dumps(source, sort_keys=True)}"


def main(args: list[str]) -> int:
    if not args:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    files = run_files(args)
    if not files:
        print(f"no run.json under {' '.join(args)}", file=sys.stderr)
        return 1
    for path in files:
        print(f"{path}: {add_source(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
