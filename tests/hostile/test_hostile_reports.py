"""The report commands (``leaderboard``, ``compare``, ``plot cost``, ``plot sweep``) under hostile
input: run.json files with impossible numbers or wrong types, folders that hold no run, sweeps that
mix protocols, output paths that cannot be written. Each is refused in one line naming the file and
the field (the one reader, ``spec.result.RunResult``, checks what it loads), or rendered correctly;
no report command changes a stored file."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from cli_checks import api_error, cli_error, digest, immutable
from dive_bench.cli.main import main
from dive_bench.spec.metric_specs import METRICS, check_margin, metric_spec
from dive_bench.spec.result import RunResult
from factories import four_models, score_run, with_task

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "leaderboards" / "sweep-fmnist-s"


def _folder(root: Path, runs: list[dict]) -> Path:
    for i, run in enumerate(runs):
        (root / f"r{i}").mkdir(parents=True, exist_ok=True)
        (root / f"r{i}" / "run.json").write_text(json.dumps(run))
    return root


def _edit(run: dict, edit) -> dict:
    run = copy.deepcopy(run)
    edit(run)
    return run


# -- impossible numbers and wrong types, refused by the one reader ---------------------------------

#: (name, index of the run in four_models() to damage, edit, phrase of the one line)
DAMAGE = [
    ("accuracy-nan", 0, lambda r: r["metrics"]["accuracy"].update(value=float("nan")), "'metrics.accuracy.value' is nan"),
    ("accuracy-750", 0, lambda r: r["metrics"]["accuracy"].update(value=7.5), "is 7.5, outside the range of accuracy"),
    ("accuracy-inf", 0, lambda r: r["metrics"]["accuracy"].update(value=float("inf")), "is inf, not a finite number"),
    ("accuracy-string", 0, lambda r: r["metrics"]["accuracy"].update(value="0.9"), "holds a JSON str, not a number"),
    ("accuracy-list", 0, lambda r: r["metrics"].update(accuracy=[0.9]), "'metrics.accuracy' holds a JSON list"),
    ("fd-nan", 4, lambda r: r["metrics"]["fd_fmnist"].update(value=float("nan")), "'metrics.fd_fmnist.value' is nan"),
    ("fd-negative", 4, lambda r: r["metrics"]["fd_fmnist"].update(value=-5.0), "fd is a Frechet distance in [0, inf)"),
    ("precision-1.5", 4, lambda r: r["metrics"]["precision_fmnist"].update(value=1.5), "precision is a fraction in [0, 1]"),
    ("is-below-1", 4, lambda r: r["metrics"].update(is_fmnist={"value": 0.5, "std": 0.1}), "is an Inception score in [1, inf)"),
    ("std-negative", 4, lambda r: r["metrics"].update(is_fmnist={"value": 2.0, "std": -1}), "'metrics.is_fmnist.std'"),
    ("bootstrap-nan", 4, lambda r: r["metrics"]["fd_fmnist"].update(bootstrap=[1.0, float("nan")]),
     "'metrics.fd_fmnist.bootstrap' must be a list of finite numbers"),
    ("fd-higher-better", 4, lambda r: r["metric_info"]["higher_is_better"].update(fd_fmnist=True),
     "says higher is better, but fd is a Frechet distance"),
    ("schema-99", 0, lambda r: r.update(schema=99), "'schema' is 99, not a run.json layout this version reads (1, 2)"),
    ("schema-two", 0, lambda r: r.update(schema="two"), "'schema' is 'two'"),
    ("schema-true", 0, lambda r: r.update(schema=True), "'schema' is True"),
    ("method-config-list", 0, lambda r: r.update(method_config=[1]), "'method_config' holds a JSON list"),
    ("interval-text", 0, lambda r: r["method_config"].update(interval="ten"), "(interval) must be an integer >= 1"),
    ("interval-0", 0, lambda r: r["method_config"].update(interval=0), "(interval) must be an integer >= 1"),
    ("protocol-config-list", 0, lambda r: r["protocol"].update(method_config=[1]), "'protocol.method_config' holds"),
    ("guidance-text", 4, lambda r: r["method_config"].update(guidance_scale="x"), "'method_config.guidance_scale'"),
    ("params-text", 0, lambda r: r["model_info"].update(params="big"), "'model_info.params' holds 'big'"),
    ("params-negative", 0, lambda r: r["model_info"].update(params=-3), "'model_info.params' is -3, a negative count"),
    ("sha-number", 0, lambda r: r["model_info"].update(sha256=5), "'model_info.sha256' holds 5"),
    ("items-sha-number", 0, lambda r: r["protocol"].update(items_sha256=5), "'protocol.items_sha256' holds 5"),
    ("reference-n-text", 4, lambda r: r["reference"].update(n="many"), "'reference.n' holds 'many'"),
    ("label-space-kind", 0, lambda r: r.update(label_space={"kind": "pixels"}), "neither 'class' nor 'layout'"),
    ("ids-dict", 0, lambda r: r["items"].update(ids={"a": 1}), "'items.ids' holds a JSON dict, not a list"),
    ("predictions-text", 0, lambda r: r["items"].update(predictions=["x"] * 40), "'items.predictions' holds 'x'"),
    ("seconds-inf", 0, lambda r: r["timings"].update(seconds_per_item=float("inf")), "'timings.seconds_per_item'"),
    ("n-items-negative", 0, lambda r: r.update(n_items=-1), "'n_items' is -1, a negative count"),
    ("nested-40", 0, lambda r: r.update(env={"deep": json.loads("[" * 40 + "]" * 40)}), "deeper than 32 levels"),
]


@pytest.mark.parametrize("name, index, edit, phrase", DAMAGE, ids=[d[0] for d in DAMAGE])
@pytest.mark.parametrize("command", ["leaderboard", "compare"])
def test_damaged_run_json_is_refused_naming_file_and_field(tmp_path, capsys, command, name, index, edit, phrase):
    runs = four_models()
    runs[index] = _edit(runs[index], edit)
    folder = _folder(tmp_path / "runs", runs)
    before = digest(folder)
    err = cli_error(capsys, [command, str(folder)])
    assert phrase in err and str(folder / f"r{index}" / "run.json") in err and "rerun" in err
    assert digest(folder) == before


def test_the_issue_cases_print_no_impossible_number(tmp_path, capsys):
    """leaderboard once rendered `accuracy nan` and `accuracy 750.0`, compare an FD of nan."""
    for value in (float("nan"), 7.5):
        runs = four_models()
        runs[0]["metrics"]["accuracy"]["value"] = value
        folder = _folder(tmp_path / f"v{value}", runs)
        capsys.readouterr()
        assert main(["leaderboard", str(folder)]) == 2
        out = capsys.readouterr().out
        assert "nan" not in out and "750" not in out


def test_a_run_that_scored_no_item_shows_a_dash_not_nan(tmp_path, capsys):
    """What score writes when every item failed (NaN with n 0) is read, and shown as no value."""
    run = score_run("m-none", 5, 0)
    run["metrics"]["accuracy"].update(value=float("nan"), ci_low=float("nan"), ci_high=float("nan"), n=0)
    run.update(n_done=0, status="partial", items={"ids": [], "predictions": [], "labels": []})
    folder = _folder(tmp_path / "runs", [score_run("m-ok", 10, 30), run])
    assert main(["leaderboard", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    row = next(line for line in out.splitlines() if "`m-none`" in line and "(no item scored)" in line)
    assert "**" not in row  # no value is never the best


def test_the_shipped_runs_all_pass_the_reader():
    """The checks are no stricter than what dive_bench wrote: every stored run.json loads."""
    files = sorted((ROOT / "leaderboards").rglob("run.json"))
    assert len(files) > 50
    for path in files:
        RunResult.load(path)


# -- what a folder of runs can be --------------------------------------------------------------------

def test_folders_without_runs_and_odd_entries_named_run_json(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    err = cli_error(capsys, ["leaderboard", str(empty)])
    assert f"no run.json files under {empty}" in err and "--out folders" in err
    assert "does not exist" in cli_error(capsys, ["compare", str(tmp_path / "missing")])
    odd = _folder(tmp_path / "odd", [score_run("m", 1, 20)])
    (odd / "dir" / "run.json").mkdir(parents=True)
    assert "Is a directory" in cli_error(capsys, ["leaderboard", str(odd)])
    shutil.rmtree(odd / "dir")
    (odd / "bin").mkdir()
    (odd / "bin" / "run.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff" * 50)
    assert "bin/run.json is not a dive_bench run.json" in cli_error(capsys, ["leaderboard", str(odd)])
    (odd / "bin" / "run.json").write_text('{"model": "m", "task"')
    assert "not valid JSON" in cli_error(capsys, ["compare", str(odd)])
    (odd / "bin" / "run.json").write_text("[" * 200_000 + "]" * 200_000)
    assert "nested too deeply" in cli_error(capsys, ["leaderboard", str(odd)])
    (odd / "bin" / "run.json").unlink()
    os.symlink("run.json", odd / "bin" / "run.json")  # a symlink loop
    assert "Too many levels of symbolic links" in cli_error(capsys, ["leaderboard", str(odd)])


# -- plot sweep: one protocol per page ----------------------------------------------------------------

@pytest.fixture()
def sweep(tmp_path):
    if not SWEEP.is_dir():
        pytest.skip("no sweep stored")
    copy_ = tmp_path / "sweep"
    shutil.copytree(SWEEP, copy_, ignore=shutil.ignore_patterns("SWEEP.md", "sweep.png"))
    return copy_


def _rewrite(path: Path, edit) -> None:
    path.write_text(json.dumps(_edit(json.loads(path.read_text()), edit)))


def test_sweep_with_a_checkpoint_scored_on_another_task_is_refused(sweep, capsys):
    """The page says "the same N images at every checkpoint": a run of another task made it false."""
    odd = sweep / "score" / "step-001500" / "run.json"
    odd.write_text(json.dumps(with_task(json.loads(odd.read_text()), "digits")))
    before = digest(sweep)
    err = cli_error(capsys, ["plot", "sweep", str(sweep)])
    assert str(odd) in err and "step 1500" in err and "different task" in err and "step 500" in err
    assert "move the odd run folder out of its score/ folder" in err
    assert digest(sweep) == before and not (sweep / "SWEEP.md").exists()


def test_sweep_with_another_item_set_or_fidelity_protocol_is_refused(sweep, capsys):
    _rewrite(sweep / "score" / "step-002000" / "run.json", lambda r: r["protocol"].update(items_sha256="0" * 64))
    assert "different item set" in cli_error(capsys, ["plot", "sweep", str(sweep)])
    _rewrite(sweep / "score" / "step-002000" / "run.json",
             lambda r: r["protocol"].update(items_sha256=json.loads((sweep / "score" / "step-000500" / "run.json")
                                                                    .read_text())["protocol"]["items_sha256"]))
    assert main(["plot", "sweep", str(sweep)]) == 0  # repaired: renders again
    _rewrite(sweep / "fidelity" / "step-002500" / "run.json", lambda r: r["method_config"].update(num_samples=17))
    err = cli_error(capsys, ["plot", "sweep", str(sweep)])
    assert "step 2500" in err and "different fidelity protocol" in err


def test_sweep_with_two_runs_of_one_step_is_refused(sweep, capsys):
    shutil.copytree(sweep / "score" / "step-001000", sweep / "score" / "step-001000-again")
    err = cli_error(capsys, ["plot", "sweep", str(sweep)])
    assert "both hold step 1000" in err and "move one of the two folders" in err


def test_sweep_of_a_file_or_an_empty_folder(tmp_path, capsys):
    (tmp_path / "f.txt").write_text("x")
    assert "is not a folder" in cli_error(capsys, ["plot", "sweep", str(tmp_path / "f.txt")])
    assert "no sweep runs under" in cli_error(capsys, ["plot", "sweep", str(tmp_path)])


# -- output paths ---------------------------------------------------------------------------------

@pytest.fixture()
def cost_runs(tmp_path):
    return _folder(tmp_path / "runs", [score_run("m", 10, 30)])


@pytest.mark.parametrize("png, phrase", [("c.txt", "the suffix '.txt' is not an image format"),
                                         ("c", "a name without a suffix names no image format"),
                                         ("c.md", "the suffix '.md'")])
def test_plot_cost_refuses_a_suffix_matplotlib_cannot_write(cost_runs, tmp_path, capsys, png, phrase):
    """`plot cost --png c.txt` was a matplotlib traceback; the line names the supported suffixes."""
    err = cli_error(capsys, ["plot", "cost", str(cost_runs), "--png", str(tmp_path / png)])
    assert phrase in err and ".png" in err and ".pdf" in err and ".svg" in err
    assert not (tmp_path / png).exists()


def test_plot_cost_writes_other_image_formats_and_missing_folders(cost_runs, tmp_path, capsys):
    assert main(["plot", "cost", str(cost_runs), "--png", str(tmp_path / "new" / "deeper" / "c.PDF")]) == 0
    assert (tmp_path / "new" / "deeper" / "c.PDF").read_bytes()[:4] == b"%PDF"


def test_plot_cost_outputs_that_cannot_be_written(cost_runs, tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    err = cli_error(capsys, ["plot", "cost", str(cost_runs), "--png", str(tmp_path / "a-file" / "c.png")])
    assert "a-file is a file, not a folder" in err
    (tmp_path / "folder.png").mkdir()
    assert "is a folder" in cli_error(capsys, ["plot", "cost", str(cost_runs), "--png", str(tmp_path / "folder.png")])
    # a bad --out is found before the PNG is written: no half of the report is left behind
    err = cli_error(capsys, ["plot", "cost", str(cost_runs), "--png", str(tmp_path / "c.png"),
                             "--out", str(tmp_path / "a-file" / "x.md")])
    assert "--out" in err and not (tmp_path / "c.png").exists()


def test_outputs_in_a_read_only_folder(cost_runs, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    with immutable(locked):
        err = cli_error(capsys, ["plot", "cost", str(cost_runs), "--png", str(locked / "c.png")])
        assert "cannot write the plot" in err or "not writable" in err
        err = cli_error(capsys, ["leaderboard", str(cost_runs), "--out", str(locked / "lb.md")])
        assert "cannot write the leaderboard" in err


def test_plot_sweep_in_a_read_only_sweep_folder(sweep, capsys):
    before = digest(sweep)
    with immutable(sweep):
        err = cli_error(capsys, ["plot", "sweep", str(sweep)])
    assert "SWEEP.md" in err and digest(sweep) == before


# -- the metric declarations themselves ----------------------------------------------------------

def test_every_metric_has_one_declaration_by_name_or_family():
    assert metric_spec("fd_dinov2") is METRICS["fd"] and metric_spec("precision_canvas") is METRICS["precision"]
    assert metric_spec("ap50").sentinel == -1 and metric_spec("ap50").holds(-1) and not metric_spec("ap50").holds(-0.5)
    assert metric_spec("kid").holds(-1e-4)  # the unbiased estimate can dip below 0
    assert metric_spec("fid").describe() == "fid is a Frechet distance in [0, inf), lower is better"
    assert metric_spec("new_metric") is None
    assert check_margin("fd_fmnist", 500.0) == 500.0  # unbounded: any finite drop is meaningful
    assert "below 1" in api_error(check_margin, "ap", 1.0)
