"""The Python API: one spec gives one key and the same numbers through ``evaluate`` and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import dive_bench as db
from dive_bench.cli.main import main

#: a short DIVE run through the API (the CLI spelling is the argv in the test below)
FAST_DIVE_KWARGS = {"interval": 100, "steps": 10, "probes_per_step": 5, "monitor_every": 5}


def test_api_and_cli_give_the_same_key_and_numbers(tmp_path):
    api = db.evaluate("dit-digits-xs", "digits", method="dive", limit=6, out=tmp_path / "api", **FAST_DIVE_KWARGS)
    argv = ["score", "dit-digits-xs", "--task", "digits", "--method", "dive", "--limit", "6", "--quiet",
            "--out", str(tmp_path / "cli"), "--interval", "100", "--steps", "10", "--batch-size", "5",
            "--monitor-every", "5"]
    assert main(argv) == 0
    cli = json.loads((tmp_path / "cli" / "run.json").read_text())
    assert api.run_key == cli["run_key"]
    assert api.metrics == cli["metrics"]
    assert api.payload["items"] == cli["items"]
    # the CLI resumes the API's folder: nothing left to compute, same key accepted
    assert main([*argv[:-10], "--out", str(tmp_path / "api"), *argv[-8:]]) == 0


def test_live_adapter_and_in_memory_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    by_name = db.evaluate("dit-digits-xs", "digits", method="enumerate", limit=8, interval=100)
    adapter = db.load_model("dit-digits-xs")
    live = db.evaluate(adapter, "digits", method="enumerate", limit=8, interval=100)
    assert live.run_key == by_name.run_key  # a checkpoint is its sha256, however it was named
    assert live.metrics["accuracy"]["value"] == by_name.metrics["accuracy"]["value"]
    assert by_name.primary[0] == "accuracy" and by_name.payload["metric_info"]["higher_is_better"]["accuracy"]
    # the label space is recorded, not inferred: K and class-vs-layout come from the file
    assert by_name.payload["label_space"] == {"kind": "class", "num_classes": 10}
    assert by_name.label_space.num_classes == 10 and not by_name.label_space.inferred
    assert list(tmp_path.iterdir()) == []  # in memory: nothing written where the user works


def test_unknown_option_is_refused_with_a_suggestion():
    with pytest.raises(db.DiveBenchError, match="no option 'stesp'.*Did you mean 'steps'"):
        db.evaluate("dit-digits-xs", "digits", stesp=3)
    with pytest.raises(db.DiveBenchError, match=r"--lr \(lr\) must be a finite number > 0"):
        db.evaluate("dit-digits-xs", "digits", lr=float("nan"))
    with pytest.raises(db.DiveBenchError, match="unknown method"):
        db.evaluate("dit-digits-xs", "digits", method="dve")


def test_list_models_is_fnmatch_over_bundled_names():
    dits = db.list_models("dit-*")
    assert {"dit-digits-xs", "dit-fmnist-b", "dit-fmnist-s"} <= set(dits) and dits == sorted(dits)
    assert all(name.startswith("dit-") for name in dits) and "layout-canvas-s" not in dits
    assert "layout-canvas-s" in db.list_models()
    assert db.list_models("nothing-*") == []


def test_import_is_light():
    """``import dive_bench`` resolves the API lazily: no torch until a model is needed."""
    code = "import sys, dive_bench; dive_bench.RunSpec; assert 'torch' not in sys.modules, 'torch imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
