"""Compare the runs of benchmarks/gpu_check.sh with the stored CPU reference runs.

For each run folder under OUTDIR: its headline metrics next to the CPU run with the same model,
task and method in leaderboards/runs, how often its per-item predictions agree with the CPU ones
(classification: the label; detection: the exact box list), and its seconds per item against the
CPU run's. Speed ratios across machines are indicative only: the CPU runs used one thread.

    python benchmarks/gpu_compare.py OUTDIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent.parent / "leaderboards" / "runs"
# which stored CPU run each gpu_check.sh run repeats
REFERENCE_RUN = {"fmnist-b-dive": "dit-fmnist-b-dive", "fmnist-b-enumerate": "dit-fmnist-b-enumerate",
                 "canvas-dive": "layout-canvas-s-dive", "fidelity": "dit-fmnist-s-fidelity"}


def headline(run: dict) -> dict[str, float]:
    m = run["metrics"]
    if "accuracy" in m:
        return {"accuracy": m["accuracy"]["value"]}
    if "ap" in m:
        return {k: m[k]["value"] if isinstance(m[k], dict) else m[k] for k in ("ap", "ap50", "ap75")}
    return {k: v["value"] for k, v in m.items() if k.startswith(("fd_", "is_", "precision_", "recall_"))}


def agreement(run: dict, ref: dict) -> str:
    if "items" not in run or "items" not in ref:
        return "-"
    ours = dict(zip(run["items"]["ids"], run["items"]["predictions"]))
    theirs = dict(zip(ref["items"]["ids"], ref["items"]["predictions"]))
    common = [i for i in ours if i in theirs]
    if not common:
        return "-"

    def key(p):  # detections: boxes and classes, not the float scores
        return sorted((d["category_id"], *d["bbox"]) for d in p) if isinstance(p, list) else p

    same = sum(key(ours[i]) == key(theirs[i]) for i in common)
    return f"{same}/{len(common)}"


def seconds_per_item(run: dict) -> float | None:
    t = run.get("timings", {})
    s = t.get("seconds_per_item")
    return None if s is None else s + (t.get("cached_seconds_per_item") or 0.0)


def main(out: Path) -> None:
    print("| run | device, dtype, tf32 | metrics | CPU reference | same predictions | s/item | CPU s/item |")
    print("|---|---|---|---|---|---|---|")
    for run_json in sorted(out.glob("*/run.json")):
        run = json.loads(run_json.read_text())
        name = run_json.parent.name
        ref_name = REFERENCE_RUN.get(name.rsplit("-", 1)[0])
        ref = json.loads((REFERENCE / ref_name / "run.json").read_text()) if ref_name else None
        env = run.get("env", {})
        ours = headline(run)
        theirs = headline(ref) if ref else {}
        fmt = lambda d: ", ".join(f"{k} {v:.4g}" for k, v in d.items())  # noqa: E731
        s, s_ref = seconds_per_item(run), (seconds_per_item(ref) if ref else None)
        print(f"| {name} | {env.get('device')}, {env.get('dtype')}, {env.get('tf32')} | {fmt(ours)} | {fmt(theirs)} | "
              f"{agreement(run, ref) if ref else '-'} | {s if s is None else f'{s:.4f}'} | "
              f"{s_ref if s_ref is None else f'{s_ref:.3f}'} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
