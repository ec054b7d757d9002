"""Hostile settings of ``dive-bench score`` / ``evaluate``: absurd finite values (``--steps 1e30``,
``--lr 1e308``) that passed validation and then failed every item, and options that were
silently ignored (another method's option, ``--stages ""``, an option under two names).

Each is refused by its declaration (``spec.options``, ``spec.configs.check_names``), so the CLI
and the API give the same line, before the model loads and before anything is stored."""

from __future__ import annotations

import pytest

import dive_bench as db
from cli_checks import api_error, cli_error, digest
from dive_bench.spec.configs import CONFIGS, DiveConfig, EnumerationConfig
from dive_bench.spec.options import allowed_of, leaves, validate
from dive_bench.spec.run_options import GuardOptions, RunOptions, SampleOptions

SCORE = ["score", "dit-digits-xs", "--task", "digits", "--limit", "2", "--quiet"]


@pytest.mark.parametrize("flags, kwargs, line", [
    (["--steps", "1e30"], dict(steps=1e30), "--steps (steps) must be an integer >= 0 and <= 100000, got 1e+30"),
    (["--lr", "1e308"], dict(lr=1e308), "--lr (lr) must be a finite number > 0 and <= 10 (or unset), got 1e+308"),
    (["--weight-decay", "1e300"], dict(weight_decay=1e300), "--weight-decay (weight_decay) must be a finite number >= 0 and <= 10000"),
    (["--probes-per-step", "10000000"], dict(probes_per_step=10_000_000), "--probes-per-step (probes_per_step) must be an integer >= 1 and <= 10000"),
    (["--interval", "2.5"], dict(interval=2.5), "--interval (interval) must be an integer >= 1 and <= 10000, got 2.5"),
    (["--eval-batch", "1e12"], dict(eval_batch=10 ** 12), "--eval-batch (eval_batch) must be an integer >= 1 and <= 1000000"),
    (["--items-per-batch", "1e9"], dict(items_per_batch=10 ** 9), "--items-per-batch (items_per_batch) must be an integer >= 1 and <= 1000000"),
    (["--seed", "1e30"], dict(seed=10 ** 30), "--seed (seed) must be an integer >= 0 and <= 9223372036854775807"),
])
def test_absurd_finite_values_are_refused_by_cli_and_api_alike(tmp_path, capsys, flags, kwargs, line):
    out = tmp_path / "out"
    assert cli_error(capsys, [*SCORE, *flags, "--out", str(out)]).startswith(f"dive-bench: error: {line}")
    assert api_error(db.evaluate, "dit-digits-xs", "digits", limit=2, out=out, **kwargs).startswith(line)
    assert not out.exists()  # refused before anything was stored


def test_sensible_values_at_the_bounds_still_pass():
    validate(DiveConfig.of(steps=100_000, lr=10.0, probes_per_step=10_000, interval=1000))
    validate(EnumerationConfig.of(eval_batch=1_000_000))
    validate(RunOptions(seed=2 ** 63 - 1, items_per_batch=256))


def test_every_numeric_option_declares_an_upper_bound():
    """The root of --steps 1e30: a numeric option without a bound accepts any finite value."""
    unbounded = [f"{cls.__name__}.{name}" for cls in (*CONFIGS.values(), RunOptions, SampleOptions, GuardOptions)
                 for name, _, f in leaves(cls)
                 if (a := allowed_of(f)) is not None and a.value_type in ("int", "float") and a.high is None]
    assert unbounded == []


def test_fidelity_absurd_values_are_refused(tmp_path, capsys):
    out = tmp_path / "fid"
    line = cli_error(capsys, ["fidelity", "dit-digits-xs", "--reference", "digits", "--num-samples", "1e12",
                              "--out", str(out)])
    assert "--num-samples (num_samples) must be an integer >= 2 and <= 10000000, got 1000000000000.0" in line
    assert "--guidance (guidance_scale) must be a finite number >= 0 and <= 100, got 1e+308" in api_error(
        db.fidelity, "dit-digits-xs", "digits", guidance_scale=1e308, out=out)
    assert not out.exists()


@pytest.mark.parametrize("flags, line", [
    (["--method", "enumerate", "--verify", "3"],
     "--verify (verify) is an option of --method dive, which enumerate would ignore; drop it or use --method dive"),
    (["--method", "enumerate", "--no-snap"], "--no-snap (snap) is an option of --method dive"),
    (["--method", "enumerate", "--prior-weight", "0.5"], "--prior-weight (prior_weight) is an option of --method dive"),
    (["--method", "enumerate", "--steps", "5"], "--steps (steps) is an option of --method dive"),
    (["--method", "dive", "--stages", "25:2,250:1"],
     "--stages (stages) is an option of --method enumerate, which dive would ignore; drop it or use --method enumerate"),
    (["--stages", "dc"], "--stages (stages) is an option of --method enumerate"),
    (["--method", "enumerate", "--stages", ""], "--stages '' must look like '25:2,250:1'"),
    (["--method", "enumerate", "--no-prior"], "--no-prior switches DIVE's layout prior off, and --method enumerate has none"),
    (["--method", "dive", "--guard", "5"], "--guard checks --method auto's choice"),
])
def test_an_option_the_method_would_ignore_is_refused(tmp_path, capsys, flags, line):
    out = tmp_path / "out"
    assert line in cli_error(capsys, [*SCORE, *flags, "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("method, kwargs, line", [
    ("enumerate", dict(verify=3), "--verify (verify) is an option of --method dive"),
    ("dive", dict(stages="dc"), "--stages (stages) is an option of --method enumerate"),
    ("enumerate", dict(stages=""), "--stages must be PROBES:KEPT pairs"),
    ("enumerate", dict(prior_weight=0.5), "--prior-weight (prior_weight) is an option of --method dive"),
])
def test_the_api_refuses_the_same_options(method, kwargs, line):
    assert line in api_error(db.evaluate, "dit-digits-xs", "digits", method=method, limit=2, **kwargs)


@pytest.mark.parametrize("method, kwargs, line", [
    ("dive", dict(probes_per_step=5, batch_size=6),
     "dive options 'probes_per_step' and 'batch_size' name one option (--probes-per-step (probes_per_step)); give it once"),
    ("dive", dict(snap_distance="l2", metric="cosine"), "'snap_distance' and 'metric' name one option"),
    ("dive", dict(eval_batch=8, monitor_batch=16), "'eval_batch' and 'monitor_batch' name one option"),
    ("enumerate", dict(eval_batch=8, batch_size=16), "'eval_batch' and 'batch_size' name one option"),
])
def test_an_option_under_its_name_and_its_earlier_name_is_refused(method, kwargs, line):
    """One of the two values used to win silently."""
    assert line in api_error(db.evaluate, "dit-digits-xs", "digits", method=method, limit=2, **kwargs)


def test_two_item_selections_are_refused(tmp_path):
    assert "--limit and --items both select items; use one" in api_error(
        db.evaluate, "dit-digits-xs", "digits", method="enumerate", limit=2, items="0:3", interval=100,
        out=tmp_path / "out")


def test_a_refused_option_leaves_a_stored_run_unchanged(tmp_path, capsys):
    out = tmp_path / "run"
    db.evaluate("dit-digits-xs", "digits", method="enumerate", limit=2, interval=100, out=out)
    before = digest(out)
    cli_error(capsys, [*SCORE, "--method", "enumerate", "--interval", "100", "--verify", "2", "--out", str(out)])
    cli_error(capsys, [*SCORE, "--method", "enumerate", "--interval", "100", "--eval-batch", "1e12", "--out", str(out)])
    assert digest(out) == before
