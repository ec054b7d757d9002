"""Self-consistency (issue 15, item 5): ``--task generated:DIR`` scores a model on its own samples,
and ``compare`` shows the result as a column beside DIVE and the fidelity metrics.

The samples are made here by the bundled dit-digits-xs through ``Adapter.sample`` into a sample
cache laid out as ``dive-bench fidelity`` leaves it (run.json + samples/), with a light protocol.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dive_bench.cli.main import main
from dive_bench.report.comparison import build_tables, comparison_markdown
from dive_bench.report.leaderboard_page import leaderboard_page
from dive_bench.errors import DiveBenchError
from dive_bench.spec.runspec import generated_task_parts
from dive_bench.tasks import TASKS
from factories import run_json
from fast_runs import ENUMERATE_COARSE

#: enumerate a model's own samples on the coarse grid, 5 samples per block
ENUMERATE_SAMPLES = [*ENUMERATE_COARSE, "--items-per-batch", "5", "--eval-batch", "100", "--quiet"]
N = 20


def make_fidelity_folder(root: Path, adapter, *, seed: int = 0, n: int = N, labels: str = "balanced") -> Path:
    """What `dive-bench fidelity --out root` leaves for a class-conditional model: sample i drawn
    from class i mod K into root/samples, and a run.json naming the sample configuration."""
    from dive_bench.generative.sample_cache import SampleCache
    from dive_bench.generative.sampling import balanced_labels, generate_samples, sample_config

    config = sample_config(adapter, sampler="ddim", steps=4, guidance_scale=1.0, seed=seed, labels=labels)
    cache = SampleCache(root / "samples", config)
    k = adapter.label_space.num_classes
    generate_samples(adapter, cache, n, labels_for=lambda idx: balanced_labels(idx, k), batch_size=10, progress=False)
    run = run_json(model=adapter.name, task="fidelity:digits-test", method="fidelity", method_config=config, seed=seed,
                   n_items=n, metrics={}, model_info=adapter.info(), kind="fidelity",
                   samples={"folder": str(cache.folder), "config": config})
    (root / "run.json").write_text(json.dumps(run))
    return root


@pytest.fixture(scope="module")
def digits_model():
    from dive_bench.adapters import load_model

    return load_model("dit-digits-xs")


@pytest.fixture(scope="module")
def generated(tmp_path_factory, digits_model):
    return make_fidelity_folder(tmp_path_factory.mktemp("fid") / "dit-digits-xs-fidelity", digits_model)


def _score(task: str, out: Path, model: str = "dit-digits-xs") -> dict:
    assert main(["score", model, "--task", task, *ENUMERATE_SAMPLES, "--out", str(out)]) == 0
    return json.loads((out / "run.json").read_text())


def test_model_scored_on_its_own_samples(tmp_path, generated, digits_model):
    """Labels are the classes the samples came from; the name holds the generator and the sample
    configuration, not the path; merge rebuilds the metric from the stored name alone."""
    run = _score(f"generated:{generated}", tmp_path / "self")
    parts = generated_task_parts(run["task"])
    assert parts is not None and str(generated) not in run["task"]
    assert parts[0] == digits_model.info()["sha256"][:16] == run["model_info"]["sha256"][:16]
    assert run["items"]["labels"] == [i % 10 for i in range(N)] and run["n_items"] == N
    right = sum(p == y for p, y in zip(run["items"]["predictions"], run["items"]["labels"]))
    assert run["metrics"]["accuracy"]["value"] == pytest.approx(right / N)

    (tmp_path / "self" / "run.json").unlink()
    assert main(["merge", str(tmp_path / "self")]) == 0
    merged = json.loads((tmp_path / "self" / "run.json").read_text())
    assert merged["metrics"] == run["metrics"] and merged["run_key"] == run["run_key"]
    with pytest.raises(DiveBenchError, match="rebuilt from a stored run"):
        TASKS.get(run["task"]).load()

    # the same folder elsewhere is the same task; other sampling seeds are another sample configuration
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(generated, moved)
    assert TASKS.get(f"generated:{moved}").name == run["task"]
    other = TASKS.get(f"generated:{make_fidelity_folder(tmp_path / 'seed1', digits_model, seed=1)}").name
    assert other != run["task"] and generated_task_parts(other)[0] == parts[0]


@pytest.mark.parametrize("case, message", [
    ("missing", "no run.json there"),
    ("score-run", "not a fidelity run"),
    ("other-labels", "neither balanced class labels nor the layouts"),
    ("other-classes", "holds samples of a 5-class model"),
])
def test_bad_generated_folders_fail_in_one_line(tmp_path, generated, capsys, case, message):
    folder = tmp_path / "bad"
    if case == "missing":
        folder.mkdir()
    elif case == "score-run":
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"method": "dive", "n_items": 3}))
    elif case == "other-labels":
        shutil.copytree(generated, folder)
        run = json.loads((folder / "run.json").read_text())
        run["samples"]["config"]["labels"] = "class-pairs"
        (folder / "run.json").write_text(json.dumps(run))
    else:  # samples of a 5-class model (as its run.json says) scored by a 10-class one
        shutil.copytree(generated, folder)
        run = json.loads((folder / "run.json").read_text())
        run["model_info"]["num_classes"] = 5
        (folder / "run.json").write_text(json.dumps(run))
    code = main(["score", "dit-digits-xs", "--task", f"generated:{folder}", *ENUMERATE_SAMPLES, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1 and "Traceback" not in err


# -- compare: a column -------------------------------------------------------------------------

def test_compare_adds_a_self_consistency_column_and_leaves_out_cross_model_runs():
    from factories import MODELS, fidelity_run, score_run, with_task

    sha = {name: f"{i + 1:x}" * 64 for i, (name, *_) in enumerate(MODELS)}  # hex, as real model hashes
    samples = "5" * 16
    runs, expected = [], {}
    for i, (name, params, right, fd, precision) in enumerate(MODELS):
        own = with_task(score_run(name, params, 10 + 5 * i, method="enumerate"), f"generated:{sha[name][:16]}.{samples}")
        runs += [score_run(name, params, right), fidelity_run(name, params, fd, precision), own]
        expected[name] = own["metrics"]["accuracy"]
    # m-xs scored on m-s's samples: not self-consistency
    runs.append(with_task(score_run("m-xs", 10_000, 3, method="enumerate"), f"generated:{sha['m-s'][:16]}.{samples}"))
    for r in runs:
        r["model_info"]["sha256"] = sha[r["model"]]
    tables, notes = build_tables(runs)
    assert len(tables) == 1 and len(tables[0].consistency) == 1
    column = next(iter(tables[0].consistency.values()))
    assert sorted(r["model"] for r in column.values()) == sorted(expected)
    assert any("m-xs" in n and "another model's samples" in n for n in notes)
    md = comparison_markdown(runs, n_boot=20)
    label = "Self-consistency (Exhaustive enumeration, 40 samples): top-1 (%) [95% CI]"
    header = [c.strip() for c in next(x for x in md.splitlines() if x.startswith("| Model ")).strip("|").split("|")]
    col = header.index(label)
    for name, acc in expected.items():
        row = next(line for line in md.splitlines() if line.startswith(f"| `{name}` "))
        cell = [c.strip() for c in row.strip("|").split("|")][col].strip("*")
        assert cell == f"{100 * acc['value']:.1f} [{100 * acc['ci_low']:.1f}, {100 * acc['ci_high']:.1f}]"
    assert "each model scored on the first 40 of its own samples" in md

    # the leaderboard opens with this table; the self-consistency runs it shows get no protocol
    # table of their own, the cross-model run (shown nowhere else) and the DIVE runs keep theirs
    page = leaderboard_page(runs)
    lead, _, protocols = page.partition("\n## Table 1:")
    assert label in lead and "m-xs" in protocols
    assert [line for line in protocols.splitlines() if line.startswith("## Table") and "generated:" in line] == [
        f"## Table 2: generated:{sha['m-s'][:16]}.{samples}"]


def test_two_sample_configurations_make_two_columns_not_one():
    """Runs of one method on samples made two ways share a label; neither column may overwrite the other."""
    from factories import MODELS, fidelity_run, score_run, with_task

    sha = {name: f"{i + 1:x}" * 64 for i, (name, *_) in enumerate(MODELS)}
    runs = []
    for i, (name, params, right, fd, precision) in enumerate(MODELS):
        digest = ("5" if i < 2 else "6") * 16
        runs += [score_run(name, params, right), fidelity_run(name, params, fd, precision),
                 with_task(score_run(name, params, 20, method="enumerate"), f"generated:{sha[name][:16]}.{digest}")]
    for r in runs:
        r["model_info"]["sha256"] = sha[r["model"]]
    table = build_tables(runs)[0][0]
    assert sorted(table.consistency) == ["Self-consistency (Exhaustive enumeration, 40 samples, samples 55555555)",
                                         "Self-consistency (Exhaustive enumeration, 40 samples, samples 66666666)"]
    assert all(len(col) == 2 for col in table.consistency.values())
