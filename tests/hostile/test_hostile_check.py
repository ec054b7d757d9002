"""``dive-bench check`` (and ``report.check.verdict``, the pytest fixture) under hostile input: a
margin that switches the gate off, settings no test can use, damaged run.json files. Every case is
refused in one line or judged correctly; the stored runs never change."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np
import pytest

from cli_checks import api_error, cli_error, digest
from dive_bench.cli.main import main
from dive_bench.report.check import INCOMPARABLE, PASS, REGRESSION, load_run, verdict
from factories import score_run


def _write(folder: Path, payload: dict | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return folder


@pytest.fixture()
def pair(tmp_path):
    """A baseline with 26 of 40 images right and a candidate with 6: a 50-point drop on 20 discordant
    images, all favouring the baseline (exact one-sided McNemar p = 2^-20)."""
    return _write(tmp_path / "base", score_run("m", 1000, 26)), _write(tmp_path / "cand", score_run("m", 1000, 6))


def test_the_gate_catches_the_drop_without_a_margin(pair, capsys):
    base, cand = pair
    assert main(["check", str(cand), "--baseline", str(base)]) == REGRESSION
    assert "McNemar exact, 20 vs 0 discordant of 40" in capsys.readouterr().out


@pytest.mark.parametrize("margin", ["5", "1", "100", "1.0"])
def test_a_margin_no_drop_can_exceed_is_refused(pair, capsys, margin):
    """The issue's case: --margin accuracy=5 on a fraction passed a 50-point drop with exit 0."""
    base, cand = pair
    before = digest(base.parent)
    err = cli_error(capsys, ["check", str(cand), "--baseline", str(base), "--margin", f"accuracy={margin}"])
    assert "accuracy is a fraction in [0, 1]" in err and "gate could never fail" in err
    assert "below 1" in err and "accuracy=0.01" in err
    assert digest(base.parent) == before


def test_a_margin_inside_the_range_still_works(pair, capsys):
    base, cand = pair
    assert main(["check", str(cand), "--baseline", str(base), "--margin", "accuracy=0.6"]) == PASS  # 0.5 tolerated
    assert main(["check", str(cand), "--baseline", str(base), "--margin", "accuracy=0.4"]) == REGRESSION


@pytest.mark.parametrize("margin, phrase", [("accuracy=-0.1", "finite number >= 0"), ("accuracy=inf", "finite number >= 0"),
                                            ("accuracy=nan", "finite number >= 0"),
                                            ("fd=0.1", "metrics the runs do not have ('fd'; they have: accuracy)"),
                                            ("accuracy", "METRIC=VALUE"), ("=0.1", "METRIC=VALUE"),
                                            ("accuracy=ten", "METRIC=VALUE")])
def test_bad_margins_are_one_line(pair, capsys, margin, phrase):
    base, cand = pair
    assert phrase in cli_error(capsys, ["check", str(cand), "--baseline", str(base), "--margin", margin])


def test_a_metric_named_twice_is_refused_not_the_last_kept(pair, capsys):
    base, cand = pair
    err = cli_error(capsys, ["check", str(cand), "--baseline", str(base), "--margin", "accuracy=0.01",
                             "--margin", "accuracy=0.6"])
    assert "names accuracy twice" in err


def test_api_and_pytest_fixture_validate_margins_too(pair):
    base, cand = (json.loads((p / "run.json").read_text()) for p in pair)
    assert "gate could never fail" in api_error(verdict, cand, base, {"accuracy": 5})
    assert "finite number >= 0" in api_error(verdict, cand, base, {"accuracy": "0.1"})
    assert "dict of metric" in api_error(verdict, cand, base, [("accuracy", 0.1)])
    from dive_bench.pytest_plugin import dive_bench_check

    check = dive_bench_check.__wrapped__()
    assert "gate could never fail" in api_error(check, pair[1], baseline=pair[0], margins={"accuracy": 2})


@pytest.mark.parametrize("kwargs, phrase", [({"n_boot": 1}, "at least 200"), ({"n_boot": 0}, "at least 200"),
                                            ({"n_boot": 2000.5}, "at least 200"), ({"n_boot": True}, "at least 200"),
                                            ({"mode": "lenient"}, "regression or noninferiority")])
def test_settings_that_would_weaken_the_gate_are_refused(pair, kwargs, phrase):
    base, cand = (json.loads((p / "run.json").read_text()) for p in pair)
    assert phrase in api_error(verdict, cand, base, **kwargs)


def test_a_drop_that_cannot_be_judged_is_not_a_pass(pair, capsys):
    """Outcomes and intervals stripped from both files: a 50-point drop was "not judged" and passed."""
    stripped = []
    for p in pair:
        run = json.loads((p / "run.json").read_text())
        run.pop("items")
        for key in ("ci_low", "ci_high"):
            run["metrics"]["accuracy"].pop(key)
        stripped.append(_write(p.parent / f"{p.name}-stripped", run))
    assert main(["check", str(stripped[1]), "--baseline", str(stripped[0])]) == INCOMPARABLE
    out = capsys.readouterr().out
    assert "dropped from 0.6500 to 0.1500" in out and "cannot be told from noise" in out
    assert main(["check", str(stripped[0]), "--baseline", str(stripped[0])]) == PASS  # no drop: still passes


def test_a_run_whose_every_item_failed_is_a_regression(pair, capsys):
    """What score writes when no item scored (accuracy NaN with n 0) is read, and never passes."""
    run = json.loads((pair[1] / "run.json").read_text())
    run["metrics"]["accuracy"].update(value=float("nan"), ci_low=float("nan"), ci_high=float("nan"), n=0)
    run.update(n_done=0, n_failed=40, status="partial", items={"ids": [], "predictions": [], "labels": []},
               failed_items={str(i): "non-finite" for i in range(40)})
    failed = _write(pair[1].parent / "failed", run)
    assert main(["check", str(failed), "--baseline", str(pair[0])]) == REGRESSION
    assert "non-finite metrics (accuracy)" in capsys.readouterr().out


def _damaged(run: dict, edit) -> dict:
    run = copy.deepcopy(run)
    edit(run)
    return run


DAMAGE = [
    ("nan-accuracy", lambda r: r["metrics"]["accuracy"].update(value=float("nan")), "'metrics.accuracy.value' is nan"),
    ("accuracy-7.5", lambda r: r["metrics"]["accuracy"].update(value=7.5), "accuracy is a fraction in [0, 1]"),
    ("ci-above-1", lambda r: r["metrics"]["accuracy"].update(ci_high=1.5), "'metrics.accuracy.ci_high' is 1.5"),
    ("ci-reversed", lambda r: r["metrics"]["accuracy"].update(ci_low=0.9, ci_high=0.1), "above ci_high"),
    ("accuracy-lower-better", lambda r: r["metric_info"]["higher_is_better"].update(accuracy=False),
     "says lower is better, but accuracy"),
    ("short-predictions", lambda r: r["items"].update(predictions=r["items"]["predictions"][:20]),
     "lists of different lengths (ids 40, predictions 20, labels 40)"),
    ("duplicate-ids", lambda r: r["items"].update(ids=[0] * 40), "lists an item twice"),
    ("string-ids", lambda r: r["items"].update(ids=[str(i) for i in r["items"]["ids"]]), "not an integer item id"),
    ("value-missing", lambda r: r["metrics"]["accuracy"].pop("value"), "'metrics.accuracy.value' is missing"),
    ("n-done-above-n", lambda r: r.update(n_done=41), "more items done than the run's n_items (40)"),
]


@pytest.mark.parametrize("name, edit, phrase", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_a_damaged_candidate_is_refused_naming_file_and_field(pair, capsys, name, edit, phrase):
    base, cand = pair
    damaged = _write(cand.parent / name, _damaged(json.loads((cand / "run.json").read_text()), edit))
    before = digest(cand.parent)
    err = cli_error(capsys, ["check", str(damaged), "--baseline", str(base)])
    assert phrase in err and str(damaged / "run.json") in err
    assert digest(cand.parent) == before


FILES = [("a-list", "[1, 2]", "holds a JSON list, not an object"), ("truncated", '{"model": "m", "ta', "not valid JSON"),
         ("nested", "[" * 100_000 + "]" * 100_000, "nested too deeply"), ("empty", "", "not valid JSON"),
         ("schema-99", None, "'schema' is 99"), ("schema-two", None, "'schema' is 'two'"),
         ("schema-1e999", None, "'schema' is inf")]


@pytest.mark.parametrize("name, text, phrase", FILES, ids=[f[0] for f in FILES])
def test_unreadable_baselines_are_one_line(pair, capsys, name, text, phrase):
    if text is None:  # a real run.json with its schema replaced, as text (1e999 parses as inf)
        value = {"schema-99": "99", "schema-two": '"two"', "schema-1e999": "1e999"}[name]
        text = (pair[0] / "run.json").read_text().replace('"schema": 2', f'"schema": {value}')
    bad = _write(pair[0].parent / name, text)
    assert phrase in cli_error(capsys, ["check", str(pair[1]), "--baseline", str(bad)])


def test_binary_a_folder_and_a_symlink_loop_named_run_json(pair, capsys, tmp_path):
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "run.json").write_bytes(bytes(range(256)) * 4)
    assert "is not a dive_bench run.json" in cli_error(capsys, ["check", str(binary), "--baseline", str(pair[0])])
    folder = tmp_path / "folder"
    (folder / "run.json").mkdir(parents=True)
    assert "Is a directory" in cli_error(capsys, ["check", str(folder), "--baseline", str(pair[0])])
    loop = tmp_path / "loop"
    loop.mkdir()
    os.symlink("run.json", loop / "run.json")
    assert "loop/run.json" in cli_error(capsys, ["check", str(loop), "--baseline", str(pair[0])])


# -- fidelity runs (the fidelity gate, report.check_fidelity) ------------------------------------

def _fidelity(seed: int = 0, n: int = 300, replicates: int = 200, fd: float = 12.0) -> dict:
    """A fidelity run whose FD carries ``replicates`` paired replicates (fd + N(0, 0.1), seed 5:
    two such runs differ by nothing but their stored values)."""
    from factories import fidelity_run

    run = fidelity_run("m", 1000, fd, 0.5, num_samples=n, seed=seed)
    run["metrics"] = {"fd_fmnist": {"value": fd, "bootstrap_seed": 0, "n_generated": n,
                                    "bootstrap": list(fd + np.random.default_rng(5).normal(0, 0.1, replicates))}}
    run["metric_info"] = {"primary": "fd_fmnist", "higher_is_better": {"fd_fmnist": False}}
    return run


@pytest.fixture()
def fid_pair(tmp_path):
    return _write(tmp_path / "fbase", _fidelity()), _write(tmp_path / "fcand", _fidelity(fd=13.0))


def test_fidelity_gate_judges_and_names_what_differs(fid_pair, tmp_path, capsys):
    base, cand = fid_pair
    before = digest(tmp_path)
    assert main(["check", str(cand), "--baseline", str(base)]) == REGRESSION  # +1.0 with every replicate +1.0
    assert main(["check", str(cand), "--baseline", str(base), "--margin", "fd_fmnist=1.5"]) == PASS
    assert main(["check", str(base), "--baseline", str(base)]) == PASS
    capsys.readouterr()
    other = {"seed-1": _fidelity(seed=1), "n-200": _fidelity(n=200), "50-replicates": _fidelity(replicates=50),
             "score-run": score_run("m", 1000, 26)}
    phrases = {"seed-1": "different seed: baseline 0, current 1", "n-200": "different N (--num-samples): baseline 300",
               "50-replicates": "stores 50 replicates of fd_fmnist, and a paired 95% bound needs at least 200; "
                                "rerun its fidelity command with --bootstrap 200",
               "score-run": "the baseline run is a fidelity run and the current run a score run"}
    for name, run in other.items():
        assert main(["check", str(_write(tmp_path / name, run)), "--baseline", str(base)]) == INCOMPARABLE, name
        out = capsys.readouterr().out.strip()
        assert "\n" not in out and "Traceback" not in out and phrases[name] in out, out
    assert {k: v for k, v in digest(tmp_path).items() if k in before} == before


@pytest.mark.parametrize("margin, phrase", [("fd_fmnist=-0.5", "finite number >= 0"), ("fd_fmnist=nan", "finite number >= 0"),
                                            ("fid=0.5", "metrics the runs do not have ('fid'; they have: fd_fmnist)"),
                                            ("fd_fmnist", "METRIC=VALUE")])
def test_bad_fidelity_margins_are_one_line(fid_pair, capsys, margin, phrase):
    base, cand = fid_pair
    assert phrase in cli_error(capsys, ["check", str(cand), "--baseline", str(base), "--margin", margin])


FID_DAMAGE = [("seed-a-string", lambda m: m.update(bootstrap_seed="0"), "'metrics.fd_fmnist.bootstrap_seed' is '0'"),
              ("seed-a-float", lambda m: m.update(bootstrap_seed=0.5), "not an integer seed"),
              ("scheme-a-number", lambda m: m.update(bootstrap_scheme=3), "not the name of a resampling scheme"),
              ("replicate-a-string", lambda m: m["bootstrap"].__setitem__(3, "x"), "must be a list of finite numbers"),
              ("replicate-nan", lambda m: m["bootstrap"].__setitem__(3, float("nan")), "must be a list of finite numbers")]


@pytest.mark.parametrize("name, edit, phrase", FID_DAMAGE, ids=[d[0] for d in FID_DAMAGE])
def test_damaged_fidelity_replicates_are_refused(fid_pair, capsys, name, edit, phrase):
    base, cand = fid_pair
    run = json.loads((cand / "run.json").read_text())
    edit(run["metrics"]["fd_fmnist"])
    damaged = _write(cand.parent / name, run)
    err = cli_error(capsys, ["check", str(damaged), "--baseline", str(base)])
    assert phrase in err and str(damaged / "run.json") in err
    assert phrase in api_error(load_run, damaged)


def test_an_unknown_replicate_scheme_is_incomparable_not_paired(fid_pair, tmp_path, capsys):
    base, cand = fid_pair
    run = json.loads((cand / "run.json").read_text())
    run["metrics"]["fd_fmnist"]["bootstrap_scheme"] = "thirds"
    assert main(["check", str(_write(tmp_path / "thirds", run)), "--baseline", str(base)]) == INCOMPARABLE
    assert "unknown scheme ('thirds')" in capsys.readouterr().out
