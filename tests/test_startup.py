"""Commands that need no model start without the deep-learning stack.

``--help``, ``list``, ``leaderboard``, ``check`` and ``report`` read names, descriptions and run.json files
only; importing torch alone takes seconds (diffusers and torch-fidelity more), so each command
runs here in a fresh interpreter and must finish, with the right output, without torch,
torchvision, diffusers or torch_fidelity in ``sys.modules``. (Wall-clock numbers are in
benchmarks/test_bench_startup.py, not here.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "leaderboards" / "runs"
HEAVY = ("torch", "torchvision", "diffusers", "torch_fidelity")

#: runs ``dive_bench.cli.main.main(argv)`` and reports its exit status and the heavy modules it loaded
CLI = f"""
import json, sys
from dive_bench.cli.main import main
try:
    rc = main(sys.argv[1:])
except SystemExit as exc:  # --help
    rc = exc.code
sys.stdout.flush()
print("\\n@@startup " + json.dumps({{"rc": rc, "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""


def run_cli(*argv: str) -> tuple[int, list[str], str]:
    """(exit status, heavy modules imported, stdout before the report line) of one command."""
    proc = subprocess.run([sys.executable, "-c", CLI, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300)
    out, sep, report = proc.stdout.rpartition("\n@@startup ")
    assert sep, f"no report from {argv}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(report)
    return result["rc"], result["heavy"], out


def test_help_loads_no_torch():
    rc, heavy, out = run_cli("--help")
    assert rc == 0 and "leaderboard" in out and "check" in out
    assert heavy == []


def test_list_loads_no_torch():
    rc, heavy, out = run_cli("list")
    assert rc == 0
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert {"dit", "layout", "dit-digits-xs", "layout-canvas-s", "fmnist", "canvas-det-sized", "imagenet-folder",
            "dive", "enumerate"} <= listed
    assert heavy == []


@pytest.mark.skipif(not RUNS.is_dir(), reason="no stored reference runs")
def test_leaderboard_loads_no_torch_and_writes_the_stored_leaderboard(tmp_path):
    rc, heavy, out = run_cli("leaderboard", "leaderboards/runs", "--out", str(tmp_path / "lb.md"))
    assert rc == 0 and "wrote" in out
    assert (tmp_path / "lb.md").read_text() == (ROOT / "leaderboards" / "LEADERBOARD.md").read_text()
    assert heavy == []


def _fmnist_missing() -> str | None:
    from dive_bench.data.idx import fmnist_missing  # where the report itself looks ($DIVE_BENCH_FMNIST_ROOT first)

    return fmnist_missing()


@pytest.mark.skipif(_fmnist_missing() is not None, reason="the stored report's galleries show Fashion-MNIST test "
                    "images (apt-get install dataset-fashion-mnist; .ci/run installs it)")
def test_report_loads_no_torch_and_writes_the_stored_report(tmp_path):
    """The committed leaderboards/report.html is what the stored runs, the datasets and the
    committed samples generate (the command of leaderboards/regenerate.sh), and building it
    imports no deep-learning stack."""
    out = tmp_path / "report.html"
    rc, heavy, printed = run_cli("report", "leaderboards/runs", "leaderboards/sweep-fmnist-s", "--images",
                                 "leaderboards/samples", "--quiet", "--out", str(out))
    assert rc == 0 and "wrote" in printed
    assert heavy == []
    committed = (ROOT / "leaderboards" / "report.html").read_bytes()
    assert len(committed) < 10_000_000
    assert out.read_bytes() == committed, "leaderboards/report.html is stale: run bash leaderboards/regenerate.sh"


@pytest.mark.skipif(not RUNS.is_dir(), reason="no stored reference runs")
def test_check_loads_no_torch():
    run = "leaderboards/runs/dit-fmnist-b-dive"
    rc, heavy, out = run_cli("check", run, "--baseline", run)
    assert rc == 0 and "PASS" in out
    assert heavy == []


@pytest.mark.skipif(not RUNS.is_dir(), reason="no stored reference runs")
def test_check_refusal_loads_no_torch():
    """An incomparable pair (another task) is refused from the files alone, too."""
    rc, heavy, out = run_cli("check", "leaderboards/runs/dit-fmnist-b-dive", "--baseline",
                             "leaderboards/runs/layout-canvas-s-dive")
    assert rc == 2 and "INCOMPARABLE" in out
    assert heavy == []


def test_detection_metric_used_by_check_loads_no_torch():
    """check recomputes COCO AP from run.json detections (metrics/coco.py): no torch for that
    either. (A full detection check bootstraps 2 x 200 COCOevals, too slow to run here.)"""
    code = f"""
import json, sys
from dive_bench.metrics.coco import coco_ap, detections_of, ground_truth_of, paired_ap_drops
targets = [{{"image_id": i, "annotations": [{{"id": i, "image_id": i, "category_id": 1 + i % 2,
            "bbox": [2.0, 2.0, 8.0, 8.0]}}]}} for i in (1, 2, 3)]
preds = [[{{"category_id": 1 + i % 2, "bbox": [2.0, 2.0, 8.0, 8.0], "score": 0.9}}] for i in (1, 2, 3)]
gt = ground_truth_of(targets, preds)
ap = coco_ap(gt, detections_of(preds, targets))["ap"]
drops = paired_ap_drops(gt, detections_of(preds, targets), detections_of(preds, targets), n_boot=3)
print(json.dumps({{"ap": ap, "drop": float(drops["ap"][0]), "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"ap": 1.0, "drop": 0.0, "heavy": []}


def test_light_packages_import_no_torch():
    """The registries' packages and the modules that moved out of heavy ones stay light: another
    engineer's eager import here would silently bring the seconds back to every command."""
    modules = ["dive_bench", "dive_bench.cli.main", "dive_bench.adapters", "dive_bench.data", "dive_bench.tasks",
               "dive_bench.metrics.coco", "dive_bench.metrics.coco", "dive_bench.report.leaderboard", "dive_bench.report.check",
               "dive_bench.report.fidelity", "dive_bench.spec.configs", "dive_bench.spec.runspec", "dive_bench.spec.result",
               "dive_bench.store.shards"]
    code = ("import importlib, json, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
