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


# -- score --sequential: each misuse is one line, before the model loads and before anything is stored

def _digits_baseline(tmp_path, name: str = "base.json", **changes):
    """A digits run.json (the factories' writer) whose protocol differs from a fresh run's by its item set."""
    import json

    from factories import run_json

    fields = dict(model="dit-digits-xs", task="digits", method="enumerate", method_config={"interval": 100},
                  metrics={"accuracy": {"value": 1.0}}, n_items=2,
                  items={"ids": [0, 1], "predictions": [0, 1], "labels": [0, 1]})
    path = tmp_path / name
    path.write_text(json.dumps(run_json(**{**fields, **changes})))
    return str(path)


FIDELITY_BASELINE = "leaderboards/runs/dit-fmnist-b-fidelity"
FMNIST_BASELINE = "leaderboards/runs/dit-fmnist-b-dive"


@pytest.mark.parametrize("flags, kwargs, line", [
    (["--sequential"], dict(sequential=True), "--sequential needs --baseline RUN"),
    (["--sequential", "--baseline", "BASE"], dict(sequential=True, baseline="BASE"),
     "--sequential needs --margin accuracy=VALUE: the margin defines the test"),
    (["--baseline", "BASE"], dict(baseline="BASE"), "--baseline set the sequential gate; add --sequential"),
    (["--margin", "accuracy=0.01"], dict(margins={"accuracy": 0.01}),
     "--margin set the sequential gate; add --sequential"),
    (["--mode", "noninferiority"], dict(mode="noninferiority"), "--mode set the sequential gate; add --sequential"),
    (["--sequential", "--baseline", "BASE", "--margin", "accuracy=0.01", "--shard", "0/2"],
     dict(sequential=True, baseline="BASE", margins={"accuracy": 0.01}, shard="0/2"),
     "--sequential decides when to stop from every item scored so far, so one worker runs it"),
    (["--sequential", "--baseline", "BASE", "--margin", "accuracy=0.01", "--method", "auto"],
     dict(sequential=True, baseline="BASE", margins={"accuracy": 0.01}, method="auto"),
     "--method auto chooses one only after a guard run"),
    (["--sequential", "--baseline", "BASE", "--margin", "fd_fmnist=0.5"],
     dict(sequential=True, baseline="BASE", margins={"fd_fmnist": 0.5}), "the sequential gate tests accuracy only"),
    (["--sequential", "--baseline", "BASE", "--margin", "accuracy=-1"],
     dict(sequential=True, baseline="BASE", margins={"accuracy": -1}),
     "the tolerated drop must be a finite number >= 0, e.g. accuracy=0.01"),
    (["--sequential", "--baseline", "BASE", "--margin", "accuracy=1"],
     dict(sequential=True, baseline="BASE", margins={"accuracy": 1.0}), "the gate could never fail"),
    (["--sequential", "--baseline", "BASE", "--margin", "accuracy"],
     dict(sequential=True, baseline="BASE", margins="accuracy=0.01"), None),
    (["--sequential", "--baseline", "NOPE", "--margin", "accuracy=0.01"],
     dict(sequential=True, baseline="NOPE", margins={"accuracy": 0.01}), "does not exist; pass a run.json"),
    (["--sequential", "--baseline", FIDELITY_BASELINE, "--margin", "accuracy=0.01"],
     dict(sequential=True, baseline=FIDELITY_BASELINE, margins={"accuracy": 0.01}), "is a fidelity run"),
    (["--sequential", "--baseline", FMNIST_BASELINE, "--margin", "accuracy=0.01"],
     dict(sequential=True, baseline=FMNIST_BASELINE, margins={"accuracy": 0.01}),
     "scored task fmnist (version 1), not digits (version 1); pass a baseline of this task"),
    (["--sequential", "--baseline", "BASE", "--margin", "accuracy=0.01", "--method", "dive"],
     dict(sequential=True, baseline="BASE", margins={"accuracy": 0.01}, method="dive"),
     "was scored with --method enumerate and this is --method dive; pass --method enumerate or a dive baseline"),
    (["--sequential", "--baseline", "PARTIAL", "--margin", "accuracy=0.01"],
     dict(sequential=True, baseline="PARTIAL", margins={"accuracy": 0.01}), "is partial (1 of 2 items scored"),
    (["--sequential", "--baseline", "BASE", "--margin", "accuracy=0.01"],
     dict(sequential=True, baseline="BASE", margins={"accuracy": 0.01}),
     "measured another protocol: different item set"),
])
def test_sequential_misuse_is_one_line_before_anything_is_stored(tmp_path, capsys, flags, kwargs, line):
    base = _digits_baseline(tmp_path)
    partial = _digits_baseline(tmp_path, "partial.json", status="partial", n_done=1)
    swap = {"BASE": base, "PARTIAL": partial}
    flags = [swap.get(f, f) for f in flags]
    kwargs = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    method = kwargs.pop("method", "enumerate")
    cli = ["score", "dit-digits-xs", "--task", "digits", "--interval", "100", "--quiet", "--out", str(tmp_path / "o"),
           *(["--method", "enumerate"] if "--method" not in flags else []), *flags]
    err = cli_error(capsys, cli)
    api = api_error(db.evaluate, "dit-digits-xs", "digits", method, interval=100, out=tmp_path / "a", **kwargs)
    if line is None:  # the CLI's syntax error and the API's wrong type, each its own line
        assert "must look like METRIC=VALUE" in err and "margins must be a dict" in api
    else:
        assert line in err and line in api
    # nothing stored (the protocol check needs the model, after --out was checked writable: an empty folder)
    assert not [p for p in (*tmp_path.glob("o/**/*"), *tmp_path.glob("a/**/*")) if p.is_file()]


def test_sequential_refuses_a_detection_task(capsys, tmp_path):
    # --method given: without it the method is read from the baseline, and "x does not exist" comes first
    line = cli_error(capsys, ["score", "layout-canvas-xs", "--task", "canvas-det", "--method", "dive", "--sequential",
                              "--baseline", "x", "--margin", "accuracy=0.01", "--out", str(tmp_path / "o"), "--quiet"])
    assert "AP is not a mean of per-image statistics, so no per-batch test of it is sound" in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("damage, key", [
    ({"verdict": "maybe"}, "sequential.verdict"), ({"alpha": 1.5}, "sequential.alpha"),
    ({"items_used": 400}, "sequential.items_used"), ({"items_used": "ten"}, "sequential.items_used"),
    ({"settled": "yes"}, "sequential.settled"),
])
def test_a_damaged_sequential_record_is_refused_in_one_line(tmp_path, damage, key):
    """run.json's ``sequential`` record (spec.result_checks) as every reader loads it."""
    import json

    from dive_bench.spec.result import RunResult
    from factories import run_json

    record = {"verdict": "pass", "settled": True, "alpha": 0.05, "items_used": 16, "items_available": 48, **damage}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run_json(model="m", task="digits", method="enumerate", method_config={},
                                        metrics={"accuracy": {"value": 1.0}}, n_items=48, sequential=record)))
    line = api_error(RunResult.load, path)
    assert f"key '{key}'" in line
