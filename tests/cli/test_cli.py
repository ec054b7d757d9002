"""The command line: list, score (both methods), resume, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dive_bench.testing import make_dit
from dive_bench.cli.main import main
from dive_bench.models.class_dit import untie
from fast_runs import COARSE

#: the coarse probe grid and no progress output, added to every score run here
COARSE_QUIET = [*COARSE, "--quiet"]
FMNIST_SLICE = Path(__file__).resolve().parents[1] / "data" / "fmnist-slice"  # 500 real test images


def _score(tmp_path, method, *extra):
    out = tmp_path / method
    rc = main(["score", "dit-digits-xs", "--task", "digits", "--method", method, "--limit", "6",
               "--out", str(out), *COARSE_QUIET, *extra])
    return rc, out


def test_console_script_lists_registries():
    exe = shutil.which("dive-bench") or f"{sys.executable} -m dive_bench"
    proc = subprocess.run(f"{exe} list", shell=True, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in ("dit", "unet", "dit-digits-xs", "dit-fmnist-b", "fmnist", "imagenet-2x1000", "enumerate"):
        assert name in proc.stdout


@pytest.mark.parametrize("method,extra", [("enumerate", []), ("dive", ["--steps", "10", "--batch-size", "4",
                                                                       "--monitor-every", "5"])])
def test_score_writes_run_json(tmp_path, capsys, method, extra):
    rc, out = _score(tmp_path, method, *extra)
    assert rc == 0
    run = json.loads((out / "run.json").read_text())
    for key in ("model", "task", "method", "status", "n_items", "metrics", "model_info", "method_config",
                "timings", "env", "run_key"):
        assert key in run
    assert run["status"] == "complete" and run["n_items"] == 6 and run["n_done"] == 6
    acc = run["metrics"]["accuracy"]
    assert 0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1
    assert len(run["model_info"]["sha256"]) == 64
    assert run["method_config"]["interval"] == 100
    assert "accuracy" in capsys.readouterr().out


def test_rerun_resumes_without_recomputing(tmp_path):
    _, out = _score(tmp_path, "enumerate")
    first = json.loads((out / "run.json").read_text())
    db = sqlite3.connect(out / "shards" / "shard-0-of-1.sqlite")
    created = db.execute("SELECT item_id, created FROM items ORDER BY item_id").fetchall()
    db.close()
    rc, _ = _score(tmp_path, "enumerate")
    assert rc == 0
    db = sqlite3.connect(out / "shards" / "shard-0-of-1.sqlite")
    assert db.execute("SELECT item_id, created FROM items ORDER BY item_id").fetchall() == created
    db.close()
    assert json.loads((out / "run.json").read_text())["metrics"] == first["metrics"]


def test_different_config_on_same_out_is_refused(tmp_path, capsys):
    _score(tmp_path, "enumerate")
    rc = main(["score", "dit-digits-xs", "--task", "digits", "--method", "enumerate", "--limit", "6",
               "--out", str(tmp_path / "enumerate"), "--interval", "50", "--quiet"])
    assert rc == 2
    assert "different run" in capsys.readouterr().err


def _error(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith("dive-bench: error:")
    assert "Traceback" not in err
    return err


def test_unknown_model(capsys):
    err = _error(capsys, ["score", "dit-fmnist-bb", "--task", "fmnist"])
    assert "unknown model 'dit-fmnist-bb'" in err and "Did you mean" in err


def test_missing_dataset_files(capsys, tmp_path):
    err = _error(capsys, ["score", "dit-fmnist-s", "--task", "fmnist", "--data-root", str(tmp_path / "none")])
    assert "dataset-fashion-mnist" in err


def test_wrong_image_size(capsys, tmp_path):
    # real 28x28 images from the committed slice, so the check runs without the Debian package
    err = _error(capsys, ["score", "dit-digits-xs", "--task", "fmnist", "--data-root", str(FMNIST_SLICE),
                          "--out", str(tmp_path / "o")])
    assert "1x28x28" in err and "1x8x8" in err


def test_corrupt_checkpoint(capsys, tmp_path):
    model = make_dit()
    untie(model)
    model.save_pretrained(tmp_path)
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    err = _error(capsys, ["score", f"dit:{tmp_path}", "--task", "digits"])
    assert "corrupt or truncated" in err


def test_hub_id_offline(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    err = _error(capsys, ["score", "dit:facebook/DiT-XL-2-256", "--task", "imagenet-2x1000"])
    assert "facebook/DiT-XL-2-256" in err and "huggingface-cli download" in err


def test_cuda_requested_without_gpu(capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the error path cannot be exercised")
    err = _error(capsys, ["score", "dit-digits-xs", "--task", "digits", "--device", "cuda"])
    assert "CUDA is not available" in err
    err = _error(capsys, ["train", "layout-prior", "--device", "cuda", "--out", "never-read"])
    assert "CUDA is not available" in err


def test_failing_item_is_recorded_and_retried(tmp_path, digits_adapter, digits_test):
    """One image that makes the model raise is isolated from its block, recorded, and retried on request."""
    from dive_bench.run.score import ScoreRequest, score

    bad = digits_test.images[3].float().div(127.5).sub(1)

    class Flaky:
        def __init__(self, inner):
            self.inner, self.broken = inner, True

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def encode(self, images):
            if self.broken and any(torch.equal(im, bad) for im in images):
                raise RuntimeError("simulated CUDA error on item 3")
            return self.inner.encode(images)

    import torch
    flaky = Flaky(digits_adapter)
    req = ScoreRequest(model="dit-digits-xs", task="digits", method="enumerate", method_config={"interval": 100},
                       out=tmp_path, limit=6, items_per_batch=4, progress=False)
    run = score(req, adapter=flaky)
    assert run["status"] == "partial" and run["n_done"] == 5 and run["n_failed"] == 1
    assert "simulated CUDA error" in run["failed_items"]["3"]
    assert score(req, adapter=flaky)["n_done"] == 5  # without --retry-failed the failure stays
    flaky.broken = False
    req.retry_failed = True
    run = score(req, adapter=flaky)
    assert run["status"] == "complete" and run["n_failed"] == 0 and run["failed_items"] == {}
