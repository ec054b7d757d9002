"""Add per-item search traces (run.json ``items.trace``, dive_bench/spec/item_trace.py) to stored
leaderboard runs that were scored before traces were recorded.

Usage: python leaderboards/add_traces.py STORED_RUN_DIR RERUN_DIR

RERUN_DIR is the same row scored again by the current code (leaderboards/traces.sh). The trace is
copied only when the rerun is the same experiment with the same outcome: the same protocol
(task, items, method config with defaults filled in, as the store compares them), seed and model
weights, and item for item equal ids, labels and predictions. Everything else in the stored run.json (metrics, timings, env, created) stays as it
was measured; ``traces_from`` records the commit and date of the rerun the traces came from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dive_bench.spec.result import RunResult
from dive_bench.spec.run_json import write_json_atomic


def main(stored_dir: str, rerun_dir: str) -> int:
    stored_path = Path(stored_dir) / "run.json"
    stored = json.loads(stored_path.read_text())
    rerun = json.loads((Path(rerun_dir) / "run.json").read_text())
    # the protocol, compared as the store compares it: a run.json written before a method option
    # was added (or renamed) names the same experiment as one that records the option's default
    old, new = RunResult.of(stored), RunResult.of(rerun)
    reason = new.protocol.differs_from(old.protocol)
    if reason is None and (old.seed, old.model_sha256) != (new.seed, new.model_sha256):
        reason = "a different seed or model"
    if reason is not None:
        print(f"{stored_dir}: the rerun differs ({reason}); not the same experiment, nothing copied", file=sys.stderr)
        return 1
    for key in ("ids", "labels", "predictions"):
        if stored["items"][key] != rerun["items"][key]:
            diff = sum(a != b for a, b in zip(stored["items"][key], rerun["items"][key]))
            print(f"{stored_dir}: the rerun's items.{key} differ on {diff} items; nothing copied", file=sys.stderr)
            return 1
    if "trace" not in rerun["items"]:
        print(f"{stored_dir}: the rerun kept no traces", file=sys.stderr)
        return 1
    stored["items"]["trace"] = rerun["items"]["trace"]
    stored["traces_from"] = {"git_sha": rerun["env"].get("git_sha"), "created": rerun["created"]}
    write_json_atomic(stored_path, stored)
    print(f"{stored_dir}: traces of {len(rerun['items']['trace'])} items added "
          f"(predictions identical to the stored run)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
