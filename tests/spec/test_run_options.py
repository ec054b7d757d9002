"""Run options are declared once (``spec/run_options.py``) and every surface is generated from or
checked against that declaration: the CLI's flags and help, the run requests, the API.

Before, the same options were written out four times and drifted: ``fidelity --sampler euler``
was offered by argparse and refused by the request, so flow and EDM models could not use the
samplers the docs advertise; ``--items-per-batch`` was called "memory, not results" in its help.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
from importlib.metadata import version
from pathlib import Path

import pytest

import dive_bench as db
from dive_bench.cli.main import build_parser, main
from dive_bench.errors import DiveBenchError
from dive_bench.spec.options import allowed_of, validate
from dive_bench.spec.run_options import SAMPLERS, GateOptions, GuardOptions, RunOptions, SampleOptions, declared, defaults

#: 500 real Fashion-MNIST test images committed with the tests (tests/data/fmnist-slice/README.md)
FMNIST_SLICE = Path(__file__).resolve().parents[1] / "data" / "fmnist-slice"


def _sub(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return dict(parser._option_string_actions)


@pytest.mark.parametrize("command,cls", [("score", RunOptions), ("score", GuardOptions), ("fidelity", SampleOptions)])
def test_every_declared_option_is_a_flag_with_the_declared_help(command, cls):
    flags = _flags(_sub(command))
    for name, f in declared(cls).items():
        spec = allowed_of(f)
        assert spec.flag in flags, (command, spec.flag)
        action = flags[spec.flag]
        assert action.dest == name and action.help.startswith(spec.help)
        if spec.choices is not None:
            assert tuple(action.choices) == tuple(spec.choices)


def test_fidelity_offers_and_accepts_every_sampler():
    """The bug this module fixed: --sampler euler|heun passed argparse and failed the request."""
    action = _flags(_sub("fidelity"))["--sampler"]
    assert tuple(action.choices) == SAMPLERS and {"euler", "heun"} <= set(SAMPLERS)
    from dive_bench.run.fidelity import FidelityRequest

    for sampler in SAMPLERS:
        validate(FidelityRequest(model="m", reference="digits", sampler=sampler))
    with pytest.raises(DiveBenchError, match=r"--sampler \(sampler\) must be one of ddim, ddpm, dpm, euler, heun"):
        validate(FidelityRequest(model="m", reference="digits", sampler="rk4"))
    # sweep --fidelity offers the same samplers (it offered ddim/ddpm/dpm only)
    assert tuple(_flags(_sub("sweep"))["--sampler"].choices) == SAMPLERS


def test_items_per_batch_help_says_it_must_stay_fixed():
    text = _flags(_sub("score"))["--items-per-batch"].help
    assert "keep it fixed" in text and "memory, not results" not in text


def test_renamed_fidelity_flags_keep_their_old_names():
    fi = _sub("fidelity")
    for argv in (["--sampler-steps", "7", "--sample-batch", "3"], ["--steps", "7", "--batch-size", "3"],
                 ["--sample-steps", "7", "--sample-batch-size", "3"]):
        args = fi.parse_args(["m", "--reference", "digits", *argv])
        assert (args.steps, args.batch_size) == (7, 3), argv
    # in sweep --steps and --batch-size are DIVE's; the sampler's flags are the new and sweep's old names
    sw = _sub("sweep")
    args = sw.parse_args(["ckpts", "--task", "digits", "--out", "o", "--steps", "5", "--sampler-steps", "9",
                          "--sample-batch-size", "4"])
    assert (args.steps, args.sample_steps, args.sample_batch_size) == (5, 9, 4)
    args = sw.parse_args(["ckpts", "--task", "digits", "--out", "o", "--sample-steps", "8"])
    assert args.sample_steps == 8 and args.steps is None


def test_sweep_fidelity_options_reach_the_request(monkeypatch, tmp_path):
    from dive_bench.cli import sweep as cli_sweep

    args = _sub("sweep").parse_args(["ckpts", "--task", "digits", "--out", "o", "--fidelity", "--reference", "digits",
                                     "--sampler", "heun", "--sampler-steps", "9", "--num-samples", "12", "--seed", "3"])
    assert cli_sweep._fidelity_options(args) == {"reference": "digits", "sampler": "heun", "steps": 9,
                                                 "num_samples": 12, "seed": 3}


def test_api_signature_is_the_declaration():
    """``evaluate`` spells its run options out (for readers and editors); they must be exactly the
    declared ones with the declared defaults, or the API and the CLI would drift again."""
    params = inspect.signature(db.evaluate).parameters
    run = {n: p.default for n, p in params.items() if n in declared(RunOptions)}
    assert run == defaults(RunOptions)
    gate = {n: p.default for n, p in params.items() if n in declared(GateOptions)}
    assert gate == defaults(GateOptions)
    assert set(params) == {"model", "task", "method", "config", "out", "progress", *declared(RunOptions),
                           *declared(GateOptions)}
    from dive_bench.run.sweep import SweepRequest

    shared = {f.name: f.default for f in dataclasses.fields(SweepRequest) if f.name in declared(RunOptions)}
    assert shared and all(shared[n] == defaults(RunOptions)[n] for n in shared)


def test_guard_options_are_validated_by_their_declaration():
    from dive_bench.run.auto import split_options

    assert split_options({})["auto"] == defaults(GuardOptions) == {"guard": 30, "guard_misses": 1}
    with pytest.raises(DiveBenchError, match=r"--guard-misses \(guard_misses\) must be an integer >= 0"):
        split_options({"guard_misses": -2})


def test_api_fidelity_refuses_an_unknown_option_with_a_suggestion():
    with pytest.raises(DiveBenchError, match="fidelity has no option 'num_sample'.*num_samples"):
        db.fidelity("dit-digits-xs", "digits", num_sample=10)
    with pytest.raises(DiveBenchError, match="must be an integer >= 2"):
        db.fidelity("dit-digits-xs", "digits", num_samples=1, feature_extractor="fmnist-classifier")


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"dive-bench {version('dive_bench')}" == f"dive-bench {db.__version__}"


def test_fidelity_cli_and_api_give_the_same_run(tmp_path):
    """One declaration, one run: the API's ``fidelity`` and the CLI write the same key and numbers
    (a flow model with --sampler euler, the combination the old declarations refused). The
    reference is the committed 500-image Fashion-MNIST slice, so no Debian package is needed."""
    opts = dict(num_samples=12, steps=3, sampler="euler", feature_extractor="fmnist-classifier", batch_size=6,
                data_root=str(FMNIST_SLICE), cache_dir=str(tmp_path / "cache"))
    api = db.fidelity("dit-fmnist-b-flow", "fmnist", out=tmp_path / "api", **opts)
    argv = ["fidelity", "dit-fmnist-b-flow", "--reference", "fmnist", "--num-samples", "12", "--steps", "3",
            "--sampler", "euler", "--feature-extractor", "fmnist-classifier", "--sample-batch", "6", "--quiet",
            "--data-root", str(FMNIST_SLICE), "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "cli")]
    assert main(argv) == 0
    cli = json.loads((tmp_path / "cli" / "run.json").read_text())
    assert api.run_key == cli["run_key"] and api.metrics == cli["metrics"]
    assert cli["method_config"]["sampler"] == "euler" and cli["n_items"] == 12
    assert cli["reference"]["n"] == 500
    assert all(m["value"] == m["value"] for m in cli["metrics"].values())  # no NaN


def test_the_api_fidelity_is_not_shadowed_by_a_package():
    """A sub-package named ``fidelity`` would rebind ``dive_bench.fidelity`` to itself on import;
    the generative-metrics package is ``dive_bench.generative`` for that reason."""
    import importlib

    for name in ("dive_bench.generative.sampling", "dive_bench.run.fidelity", "dive_bench.report.fidelity"):
        importlib.import_module(name)
    assert callable(db.fidelity) and db.fidelity.__module__ == "dive_bench.api"
