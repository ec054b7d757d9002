"""Hostile input to the Python API (``dive_bench.evaluate``, ``fidelity``): a live model whose
weights changed since the last call into the same ``out=``, keyword values of the wrong type, an
``out`` that is no folder, a run whose every item fails.

A live model is keyed by the weights it holds (``run.identity``): the first evaluation's
predictions must never come back for other weights, and unchanged weights must resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import dive_bench as db
from cli_checks import api_error, cli_error, digest
from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError, ItemsFailedError

FMNIST_SLICE = Path(__file__).resolve().parents[1] / "data" / "fmnist-slice"
#: exhaustive enumeration of the 10 digits on 10 probes: a fraction of a second per item
ENUM = dict(method="enumerate", limit=4, interval=100)


def _scramble(adapter, seed: int) -> None:
    """What a training step does to a live model, made drastic: every weight redrawn in place."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in adapter.modules().values():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def _no_compute(monkeypatch):
    """Any item computed from here on fails the test: a resumed run must read its results."""
    import dive_bench.run.score as score

    def refuse(*args, **kwargs):
        raise AssertionError("an item was recomputed")
    monkeypatch.setattr(score, "_run_items", refuse)


def test_live_model_in_one_folder_gets_a_new_result_when_its_weights_change(tmp_path, monkeypatch):
    """The training-script loop: one model, one out=, weights changed between calls."""
    out = tmp_path / "eval"
    model = db.load_model("dit-digits-xs")
    first = db.evaluate(model, "digits", out=out, **ENUM)
    by_name = db.evaluate("dit-digits-xs", "digits", **ENUM)
    # unchanged since load_model: it is the checkpoint file (key and folder of the CLI's run)
    assert first.run_key == by_name.run_key and (out / "run.json").is_file()
    assert first.payload["model_info"]["sha256_of"] == "checkpoint file"

    _scramble(model, 1)
    second = db.evaluate(model, "digits", out=out, **ENUM)
    fresh = db.evaluate(model, "digits", **ENUM)  # the right answer for these weights: a fresh folder
    assert second.run_key != first.run_key
    assert second.payload["items"]["predictions"] == fresh.payload["items"]["predictions"]
    assert second.payload["items"]["predictions"] != first.payload["items"]["predictions"]
    info = second.payload["model_info"]
    assert info["sha256_of"] == "weights in memory"
    assert info["checkpoint_sha256"] == first.payload["model_info"]["sha256"] != info["sha256"]
    folder = out / f"weights-{info['sha256'][:16]}"
    assert json.loads((folder / "run.json").read_text())["run_key"] == second.run_key

    _scramble(model, 2)
    third = db.evaluate(model, "digits", out=out, **ENUM)
    assert len({first.run_key, second.run_key, third.run_key}) == 3

    # unchanged weights resume: nothing recomputed, the same run, and the earlier runs untouched
    before = digest(out / "shards")
    _no_compute(monkeypatch)
    again = db.evaluate(model, "digits", out=out, **ENUM)
    assert again.run_key == third.run_key and again.payload["items"] == third.payload["items"]
    assert digest(out / "shards") == before


def test_live_model_fidelity_is_resampled_when_its_weights_change(tmp_path):
    """fidelity(adapter, out=) was keyed (and its sample cache read) by the checkpoint file."""
    opts = dict(num_samples=6, steps=2, sampler="euler", feature_extractor="fmnist-classifier", batch_size=6,
                data_root=str(FMNIST_SLICE), cache_dir=str(tmp_path / "cache"))
    model = db.load_model("dit-fmnist-b-flow")
    first = db.fidelity(model, "fmnist", out=tmp_path / "fid", **opts)
    _scramble(model, 3)
    second = db.fidelity(model, "fmnist", out=tmp_path / "fid", **opts)
    fresh = db.fidelity(model, "fmnist", out=tmp_path / "fresh", **opts)
    assert second.run_key != first.run_key and second.run_key == fresh.run_key
    assert second.metrics == fresh.metrics and second.metrics != first.metrics
    assert second.payload["timings"]["generated_this_invocation"] == 6  # sampled again, not read
    again = db.fidelity(model, "fmnist", out=tmp_path / "fid", **opts)
    assert again.payload["timings"]["generated_this_invocation"] == 0 and again.metrics == second.metrics


@pytest.mark.parametrize("kwargs, named", [
    (dict(limit="10"), "--limit (limit) must be an integer >= 1"),
    (dict(limit=2.0), "--limit (limit) must be an integer"),
    (dict(limit=True), "--limit (limit) must be an integer"),
    (dict(seed=1.5), "--seed (seed) must be an integer >= 0"),
    (dict(seed=-1), "--seed (seed) must be an integer >= 0"),
    (dict(device="gpu9"), "--device 'gpu9' is not a device torch knows; use cpu, cuda or cuda:N"),
    (dict(dtype="fp64"), "--dtype (dtype) must be one of fp32, bf16, fp16"),
    (dict(tf32="yes"), "--tf32 (tf32) must be true or false"),
    (dict(items_per_batch=0), "--items-per-batch (items_per_batch) must be an integer >= 1"),
    (dict(items=object()), "pass 'A:B', a range or a list of item ids"),
    (dict(items=[0, 1.5]), "every item id must be a whole number"),
    (dict(item_ids=5), "--item-ids (item_ids) must be a string"),
    (dict(data_root=5), "--data-root (data_root) must be a string"),
    (dict(shard="a/b"), "--shard 'a/b' must look like K/N"),
    (dict(retry_failed="yes"), "--retry-failed (retry_failed) must be true or false"),
    (dict(progress="no"), "progress must be True or False"),
    (dict(out=""), "out must be a folder path"),
    (dict(out=5), "out must be a folder path"),
    (dict(method=5), "unknown method 5; use one of dive, enumerate, auto"),  # None is the default: dive
])
def test_wrong_type_or_value_of_a_keyword_is_one_line(kwargs, named):
    message = api_error(db.evaluate, "dit-digits-xs", "digits", **kwargs)
    assert named in message, message


@pytest.mark.parametrize("model, task, named", [
    (123, "digits", "model must be a MODEL spec string"),
    (Path("dit-digits-xs"), "digits", "got PosixPath"),
    ("dit-digits-xs", None, "task must be a non-empty string"),
    ("dit-digits-xs", 5, "task must be a non-empty string"),
])
def test_model_and_task_of_the_wrong_type_are_one_line(model, task, named):
    assert named in api_error(db.evaluate, model, task)


def test_fidelity_keywords_of_the_wrong_type_are_one_line():
    assert "--num-samples (num_samples) must be an integer >= 2" in api_error(
        db.fidelity, "dit-digits-xs", "digits", num_samples="10")
    assert "--sampler-steps (steps) must be an integer" in api_error(db.fidelity, "dit-digits-xs", "digits", steps=10.0)
    assert "reference must be a non-empty string" in api_error(db.fidelity, "dit-digits-xs", None)
    assert "model must be a MODEL spec string" in api_error(db.fidelity, object(), "digits")


def test_out_pointing_at_a_file_is_refused_and_the_file_kept(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    message = api_error(db.evaluate, "dit-digits-xs", "digits", out=target, **ENUM)
    assert f"--out {target} cannot hold results" in message and "is an existing file" in message
    assert target.read_text() == "mine"


def test_every_item_failing_raises_instead_of_an_empty_partial_result(tmp_path, monkeypatch):
    """All items failed: the API used to return status 'partial' with empty metrics, raising nothing."""
    import dive_bench.run.methods as methods

    def boom(*args, **kwargs):
        raise RuntimeError("model exploded")
    monkeypatch.setitem(methods.METHODS, "enumerate", methods.dataclasses.replace(methods.METHODS["enumerate"], run=boom))
    message = api_error(db.evaluate, "dit-digits-xs", "digits", out=tmp_path / "api", **ENUM)
    assert message.startswith("all 4 items failed, so there are no metrics (first: item 0: RuntimeError: model exploded)")
    assert "rerun with --retry-failed (retry_failed=True)" in message
    with pytest.raises(ItemsFailedError):  # a DiveBenchError a script can catch by its own name
        db.evaluate("dit-digits-xs", "digits", **ENUM)
    assert issubclass(ItemsFailedError, DiveBenchError)
    # the failures are recorded, as for any failed item
    assert json.loads((tmp_path / "api" / "run.json").read_text())["n_failed"] == 4



def test_all_failed_cli_prints_one_error_line_and_exits_3(tmp_path, monkeypatch, capsys):
    import dive_bench.run.methods as methods

    def boom(*args, **kwargs):
        raise RuntimeError("model exploded")
    monkeypatch.setitem(methods.METHODS, "enumerate", methods.dataclasses.replace(methods.METHODS["enumerate"], run=boom))
    capsys.readouterr()
    code = main(["score", "dit-digits-xs", "--task", "digits", "--method", "enumerate", "--limit", "2",
                 "--interval", "100", "--quiet", "--out", str(tmp_path / "cli")])
    captured = capsys.readouterr()
    assert code == 3 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dive-bench: error: all 2 items failed, so there are no metrics")
    # merge of that folder says the same, without "metrics cover the others"
    assert main(["merge", str(tmp_path / "cli")]) == 3
    err = capsys.readouterr().err
    assert "no item was scored, so there are no metrics" in err and "cover the others" not in err


def test_a_float_for_an_integer_flag_is_one_line_with_the_range(capsys):
    """The CLI spelling: argparse used to print its usage block for --seed 1.5 / --steps 1e30."""
    assert "--seed (seed) must be an integer >= 0" in cli_error(
        capsys, ["score", "dit-digits-xs", "--task", "digits", "--seed", "1.5"])
