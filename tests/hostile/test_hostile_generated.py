"""Hostile ``--task generated:DIR`` inputs: damaged sample PNGs and a run.json whose counts ask
for more than the folder holds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cli_checks import api_error, cli_error
from dive_bench.tasks import TASKS
from factories import run_json
from fast_runs import ENUMERATE_COARSE

N = 4


@pytest.fixture(scope="module")
def fidelity_folder(tmp_path_factory):
    """What `dive-bench fidelity --out DIR` leaves: samples/ (class i mod K) and run.json."""
    from dive_bench.adapters import load_model
    from dive_bench.generative.sample_cache import SampleCache
    from dive_bench.generative.sampling import balanced_labels, generate_samples, sample_config

    adapter = load_model("dit-digits-xs")
    root = tmp_path_factory.mktemp("gen") / "fid"
    config = sample_config(adapter, sampler="ddim", steps=2, guidance_scale=1.0, seed=0, labels="balanced")
    cache = SampleCache(root / "samples", config)
    generate_samples(adapter, cache, N, labels_for=lambda idx: balanced_labels(idx, 10), batch_size=N, progress=False)
    run = run_json(model=adapter.name, task="fidelity:digits-test", method="fidelity", method_config=config, seed=0,
                   n_items=N, metrics={}, model_info=adapter.info(), kind="fidelity",
                   samples={"folder": str(cache.folder), "config": config})
    (root / "run.json").write_text(json.dumps(run))
    return root


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_truncated_sample_is_named_with_how_to_regenerate_it(tmp_path, capsys, fidelity_folder):
    folder = _copy(fidelity_folder, tmp_path / "fid")
    sample = folder / "samples" / "000002.png"
    sample.write_bytes(sample.read_bytes()[:40])
    err = cli_error(capsys, ["score", "dit-digits-xs", "--task", f"generated:{folder}", *ENUMERATE_COARSE, "--quiet",
                             "--out", str(tmp_path / "out")])
    assert "sample " + str(sample) + " is truncated or not a readable image" in err
    assert "delete it and rerun the `dive-bench fidelity` command that made this folder" in err
    assert "free space" not in err


def test_empty_sample_is_named(tmp_path, fidelity_folder):
    folder = _copy(fidelity_folder, tmp_path / "fid")
    (folder / "samples" / "000001.png").write_bytes(b"")
    err = api_error(lambda: TASKS.get(f"generated:{folder}").load())
    assert "000001.png is empty (0 bytes)" in err and "rerun the `dive-bench fidelity`" in err


def test_sample_of_another_size_is_named(tmp_path, fidelity_folder):
    from PIL import Image

    folder = _copy(fidelity_folder, tmp_path / "fid")
    Image.new("L", (9, 9)).save(folder / "samples" / "000003.png")
    err = api_error(lambda: TASKS.get(f"generated:{folder}").load())
    assert "000003.png is 9x9x1 (WxHxC) but" in err and "000000.png is 8x8x1" in err


@pytest.mark.parametrize("field, value, phrase", [
    ("n_items", 10 ** 12, "run.json counts 1,000,000,000,000 samples but samples/ holds 4"),
    ("n_items", 0, "more items done than the run's n_items (0)"),  # the run.json reader sees it first
])
def test_counts_beyond_the_folder_are_refused_before_use(tmp_path, fidelity_folder, field, value, phrase):
    folder = _copy(fidelity_folder, tmp_path / "fid")
    run = json.loads((folder / "run.json").read_text())
    run[field] = value
    (folder / "run.json").write_text(json.dumps(run))
    start = time.perf_counter()
    assert phrase in api_error(TASKS.get, f"generated:{folder}")
    assert time.perf_counter() - start < 1.0


def test_absurd_class_count_is_refused_before_use(tmp_path, fidelity_folder):
    folder = _copy(fidelity_folder, tmp_path / "fid")
    run = json.loads((folder / "run.json").read_text())
    run["model_info"]["num_classes"] = 10 ** 12
    if "label_space" in run:
        run["label_space"]["num_classes"] = 10 ** 12
    (folder / "run.json").write_text(json.dumps(run))
    err = api_error(TASKS.get, f"generated:{folder}")
    assert "more than any class-conditional model (at most 100,000)" in err
