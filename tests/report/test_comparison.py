"""``dive-bench compare``: the model-comparison table (the paper's Table VI), rank agreement with
bootstrap intervals, paired tests, protocol separation, and that it needs run.json files only.

Runs are small run.json payloads from tests/factories.py (4 models, 40 images, outcomes chosen by hand),
so every number can be checked by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dive_bench.report.agreement import average_ranks, kendall_tau_b, spearman_rho
from dive_bench.cli.main import main
from dive_bench.report.comparison import build_tables, comparison_markdown
from dive_bench.errors import DiveBenchError
from dive_bench.metrics.stats import mcnemar_exact, wilson_interval
from factories import DIVE_CONFIG, MODELS, N_ITEMS, fidelity_run, four_models, layout_outcomes, score_run

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "leaderboards" / "runs"


def _cells(md: str, first: str) -> list[str]:
    """The cells of the Markdown table row whose first cell is ``first``."""
    line = next(x for x in md.splitlines() if x.startswith(f"| {first} "))
    return [c.strip() for c in line.strip("|").split("|")]


def _ci(cell: str) -> tuple[float, float, float]:
    point, low, high = map(float, re.match(r"\*{0,2}([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\]", cell).groups())
    return point, low, high


# -- rank correlations ----------------------------------------------------------------------

def test_rank_correlations_match_hand_computed_values():
    assert kendall_tau_b([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau_b([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(2 / 3)  # one of 6 pairs swapped
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman_rho([1, 2, 3, 4], [1, 2, 4, 3]) == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    # ties: x tied in one pair -> tau-b = (4 - 0) / sqrt(5 * 6); average ranks 1, 2.5, 2.5, 4
    assert kendall_tau_b([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / np.sqrt(5 * 6))
    assert average_ranks([1, 2, 2, 3]).tolist() == [1, 2.5, 2.5, 4]
    assert np.isnan(kendall_tau_b([1, 1, 1], [1, 2, 3])) and np.isnan(spearman_rho([1, 1, 1], [1, 2, 3]))
    # vectorised over replicates: one value per row
    x = np.array([[1, 2, 3, 4], [1, 2, 4, 3]])
    assert kendall_tau_b(x, [1, 2, 3, 4]).tolist() == pytest.approx([1.0, 2 / 3])


def test_rank_correlations_match_scipy_with_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for _ in range(50):
        x, y = rng.integers(0, 4, 7).astype(float), rng.integers(0, 5, 7).astype(float)
        if len(set(x)) == 1 or len(set(y)) == 1:
            continue
        assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)
        assert spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


# -- the table ------------------------------------------------------------------------------

def test_one_row_per_model_with_fidelity_and_dive_columns_ordered_by_size():
    runs = four_models() + [score_run(n, p, r + 1, method="enumerate", config={"interval": 10, "probe_seed": 42,
                                                                              "loss": "l2", "stages": None})
                            for n, p, r, _, _ in MODELS]
    md = comparison_markdown(runs, n_boot=200)
    assert md.count("### Table") == 1 and "## Class-conditional models" in md and "Layout" not in md
    header = _cells(md, "Model")
    assert header[:4] == ["Model", "#Params", "fd_fmnist (fmnist-classifier, N=100) ↓", "precision_fmnist ↑"]
    assert "DIVE: top-1 (%) [95% CI]" in header and "Exhaustive enumeration: top-1 (%) [95% CI]" in header
    assert "DIVE: evaluations / image" in header and "DIVE: s / image" in header
    rows = [line.split("|")[1].strip() for line in md.splitlines() if line.startswith("| `m-")]
    assert rows[:4] == ["`m-xs`", "`m-s`", "`m-b`", "`m-l`"]  # by parameter count, once each in the table
    cells = dict(zip(header, _cells(md, "`m-l`")))
    low, high = wilson_interval(32, N_ITEMS)
    assert cells["DIVE: top-1 (%) [95% CI]"] == f"**80.0 [{100 * low:.1f}, {100 * high:.1f}]**"
    assert cells["Exhaustive enumeration: top-1 (%) [95% CI]"] == f"**82.5 [{100 * wilson_interval(33, 40)[0]:.1f}, " \
        f"{100 * wilson_interval(33, 40)[1]:.1f}]**"
    assert cells["#Params"] == "0.08M" and cells["precision_fmnist ↑"] == "**0.500**"
    assert dict(zip(header, _cells(md, "`m-b`")))["fd_fmnist (fmnist-classifier, N=100) ↓"] == "**20.00**"


def test_kendall_tau_of_one_swapped_pair_and_its_bootstrap_interval():
    md = comparison_markdown(four_models(), n_boot=300, seed=0)
    # DIVE orders xs < s < b < l; FD (lower is better) orders xs < s < l < b: one pair of 6 swapped
    fd = _cells(md, "fd_fmnist (lower is better)")
    tau, low, high = _ci(fd[2])
    assert tau == pytest.approx(0.67, abs=0.005) and low <= tau <= high
    assert _ci(fd[3])[0] == pytest.approx(0.80)  # Spearman
    assert fd[4].startswith("no: not stored")  # these fidelity runs keep no replicates
    precision = _cells(md, "precision_fmnist (higher is better)")
    assert _ci(precision[2])[0] == pytest.approx(1.0)
    # deterministic for a seed, another seed resamples differently
    assert comparison_markdown(four_models(), n_boot=300, seed=0) == md
    assert comparison_markdown(four_models(), n_boot=300, seed=5) != md


def test_stored_fidelity_replicates_widen_nothing_they_should_not_and_are_used():
    md = comparison_markdown(four_models(replicates=True), n_boot=300, seed=0)
    fd = _cells(md, "fd_fmnist (lower is better)")
    assert fd[4].startswith("yes: one of each model's 50+ stored replicates")
    tau, low, high = _ci(fd[2])
    assert tau == pytest.approx(0.67, abs=0.005) and low <= tau <= high
    # FD cells show the replicates' interval, re-centred on the value (the replicates sit 3 above it)
    cell = dict(zip(_cells(md, "Model"), _cells(md, "`m-xs`")))["fd_fmnist (fmnist-classifier, N=100) ↓"]
    value, low_fd, high_fd = map(float, re.match(r"([\d.]+) \[([\d.]+), ([\d.]+)\]", cell).groups())
    assert value == 40.0 and low_fd < value < high_fd and abs((low_fd + high_fd) / 2 - value) < 1.5


def test_fewer_than_three_models_print_no_tau_and_pairs_get_mcnemar():
    runs = [r for r in four_models() if r["model"] in ("m-xs", "m-l")]
    md = comparison_markdown(runs, n_boot=100)
    assert "n/a (needs >= 3 models)" in md and "tau-b [95% CI]" not in md
    cells = _cells(md, "`m-xs` vs `m-l`")
    # xs right on images 0-19, l on 0-31: 12 discordant, all for l
    assert cells[1:3] == ["-30.0", "40"]
    assert cells[3] == f"exact McNemar: 0 vs 12 discordant, p = {mcnemar_exact(0, 12):.2g}"


# -- protocols ------------------------------------------------------------------------------

def test_protocols_are_never_mixed():
    runs = four_models()
    runs.append(score_run("m-b", 40_000, 30, config={**DIVE_CONFIG, "steps": 50}))  # another DIVE config
    runs += [fidelity_run(n, p, fd * 10, prec, extractor="inception-v3-compat") for n, p, _, fd, prec in MODELS[:2]]
    runs.append(fidelity_run("m-b", 40_000, 22.0, 0.4, num_samples=5000))  # another N
    tables, notes = build_tables(runs)
    # 2 DIVE protocols x their fidelity partners: (100 steps: FD N=100, FD N=5000, FID) + (50 steps: FD N=100, N=5000)
    assert len(tables) == 5 and not notes
    md = comparison_markdown(runs, n_boot=50)
    blocks = md.split("### Table")[1:]
    for block in blocks:
        header = next(line for line in block.splitlines() if line.startswith("| Model "))
        assert not ("| fid (" in header and "fd_fmnist" in header)  # Inception FID never beside another FD
        assert not ("N=100)" in header and "N=5000)" in header)  # nor numbers at two N
    fid_table = next(b for b in blocks if "inception-v3-compat" in b.splitlines()[0])
    header = _cells(fid_table, "Model")
    assert dict(zip(header, _cells(fid_table, "`m-b`")))["fid (inception-v3-compat, N=100) ↓"] == "-"
    assert dict(zip(header, _cells(fid_table, "`m-xs`")))["fid (inception-v3-compat, N=100) ↓"] == "400.00"
    steps50 = [b for b in blocks if "steps=50" in b.splitlines()[0]]
    assert len(steps50) == 2 and all("75.0 [" in b and "80.0 [" not in b for b in steps50)  # 30 of 40, alone


def test_two_fidelity_runs_of_one_model_and_protocol_show_one_and_say_so():
    runs = four_models() + [fidelity_run("m-b", 40_000, 99.0, 0.1, seed=1)]
    runs[-1]["created"] = "2030-01-01T00:00:00Z"  # the newer run of the two is shown
    tables, _ = build_tables(runs)
    assert len(tables) == 1 and any("has two runs of this protocol" in n for n in tables[0].notes)
    assert tables[0].fidelity["sha-m-b"]["metrics"]["fd_fmnist"]["value"] == 99.0
    assert "has two runs of this protocol" in comparison_markdown(runs, n_boot=20)


def test_layout_and_class_models_in_one_table_are_refused_in_one_line(tmp_path, capsys):
    runs = four_models()
    runs[0]["model_info"]["adapter"] = "layout"
    with pytest.raises(DiveBenchError, match="class-conditional.*layout-conditional"):
        build_tables(runs)
    for r in runs:
        (tmp_path / r["model"] / r["method"]).mkdir(parents=True, exist_ok=True)
        (tmp_path / r["model"] / r["method"] / "run.json").write_text(json.dumps(r))
    assert main(["compare", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "separate `dive-bench compare` calls" in err


def test_bad_input_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    fid = tmp_path / "fid" / "run.json"
    fid.parent.mkdir()
    fid.write_text(json.dumps(fidelity_run("m-b", 1, 2.0, 0.5)))
    (tmp_path / "junk.json").write_text("not json")
    dive = tmp_path / "dive" / "run.json"
    dive.parent.mkdir()
    dive.write_text(json.dumps(score_run("m-b", 1, 20)))
    assert main(["compare", str(dive), str(fid)]) == 0
    capsys.readouterr()
    for args in ([str(tmp_path / "missing")], [str(tmp_path / "empty")], [str(fid)], [str(tmp_path / "junk.json")],
                 [str(dive), "--bootstrap", "0"]):
        assert main(["compare", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("dive-bench: error:") and err.count("\n") == 1, err


# -- layout models: COCO AP resampled over images ---------------------------------------------

def _layout_run(name: str, params: int, hits: int) -> dict:
    """A detection run on 6 images with one box each; the first ``hits`` predicted exactly, the rest missed."""
    labels, predictions = layout_outcomes(hits)
    run = score_run(name, params, 0)
    run.update(task="canvas-det", metrics={"ap": {"value": hits / 6, "n": 6}},
               metric_info={"primary": "ap", "higher_is_better": {"ap": True}},
               items={"ids": list(range(6)), "labels": labels, "predictions": predictions})
    run["model_info"]["adapter"] = "layout"
    run["protocol"]["task"] = "canvas-det"
    return run


def test_layout_models_get_their_own_section_with_ap_resampled_over_images():
    runs = [_layout_run("lay-s", 1, 2), _layout_run("lay-b", 2, 5)] + four_models()
    md = comparison_markdown(runs, n_boot=30, seed=0)
    layout = md.split("## Layout-conditional models")[1]
    assert "## Class-conditional models" in md.split("## Layout-conditional models")[0]
    assert "DIVE: AP (%) [95% CI]" in layout and "`m-b`" not in layout
    cells = _cells(layout, "`lay-s` vs `lay-b`")
    # COCO's 101-point AP: 2 of 6 boxes found ~ 34/101, 5 of 6 ~ 84/101
    assert float(cells[1].split()[0]) == pytest.approx(-100 * 50 / 101, abs=0.1) and cells[2] == "6"
    assert cells[3].startswith("paired image bootstrap (30)")


# -- run.json only ----------------------------------------------------------------------------

#: runs the CLI with imports of torch, models, adapters and tasks failing, and records every file opened
SANDBOX = """
import builtins, io, json, sys
BLOCKED = ("torch", "torchvision", "diffusers", "torch_fidelity", "safetensors", "dive_bench.adapters",
           "dive_bench.models", "dive_bench.tasks", "dive_bench.inversion")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED or any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Block())
opened, real_open = [], io.open
def spy(file, *a, **k):
    opened.append(str(file))
    return real_open(file, *a, **k)
builtins.open = io.open = spy
from dive_bench.cli.main import main
rc = main(sys.argv[1:])
sys.stdout.flush()
print("\\n@@ " + json.dumps({"rc": rc, "opened": opened}))
"""


def _sandboxed(tmp_path: Path, *args: str) -> tuple[int, list[str]]:
    proc = subprocess.run([sys.executable, "-c", SANDBOX, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    out, sep, report = proc.stdout.rpartition("\n@@ ")
    assert sep, f"rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    result = json.loads(report)
    return result["rc"], result["opened"]


#: the class-conditional comparison LEADERBOARD.md opens with: model -> its runs under
#: leaderboards/runs (DIVE: reference_runs.sh, table6_runs.sh; fidelity and self-consistency: table6_runs.sh)
TABLE6 = {m: (f"{m}-dive", f"{m}-fidelity", f"{m}-self-consistency")
          for m in ("dit-fmnist-s", "dit-fmnist-b", "dit-fmnist-s-1k", "unet-fmnist-s", "dit-fmnist-b-flow")}
STORED = pytest.mark.skipif(not (RUNS / "dit-fmnist-b-fidelity").is_dir(), reason="no stored reference runs")


def _repository_files(opened: list[str]) -> list[str]:
    """Files of the repository that were opened, leaving out the Python installation's own (CI's
    fresh venv lives inside the checkout, at .ci-venv: its package metadata is not the repo's)."""
    installs = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
    return [p for p in opened if p.startswith(str(ROOT)) and not str(Path(p).resolve()).startswith(installs)]


def _comparison_section(md: str) -> str:
    """LEADERBOARD.md's model comparison: from its heading to the first protocol table."""
    return md.split("## Model comparison", 1)[1].split("\n## Table 1:", 1)[0]


@STORED
def test_leaderboard_renders_from_run_json_files_alone(tmp_path):
    """A copy of leaderboards/runs with no model anywhere: imports of torch, adapters, models and
    tasks fail, the only files opened are run.json copies and the output, and the page (the model
    comparison included) is the stored LEADERBOARD.md."""
    shutil.copytree(RUNS, tmp_path / "runs", ignore=shutil.ignore_patterns("shards", "samples"))
    rc, opened = _sandboxed(tmp_path, "leaderboard", "runs", "--out", "out.md")
    assert rc == 0
    ours = [p for p in opened if not Path(p).is_absolute() or p.startswith(str(tmp_path))]
    assert ours and all(p == "out.md" or (p.startswith("runs/") and p.endswith("/run.json")) for p in ours), ours
    # nothing of the repository (bundled weights, assets), no weights or caches anywhere; the rest is
    # the Python installation's own files (package metadata, time zones)
    assert not _repository_files(opened) + [p for p in opened if p.endswith((".safetensors", ".pth", ".pt", ".npz"))]
    ours, stored = (tmp_path / "out.md").read_text(), (ROOT / "leaderboards" / "LEADERBOARD.md").read_text()
    assert "## Model comparison" in ours
    assert ours.split("\n## ", 1)[1] == stored.split("\n## ", 1)[1]  # all but the header naming the folder


@STORED
def test_stored_comparison_agrees_with_the_runs():
    """Every row of LEADERBOARD.md's class-conditional comparison is its run.json numbers, the
    table holds exactly the TABLE6 models, and the stated tau of FD is the one of those numbers."""
    md = _comparison_section((ROOT / "leaderboards" / "LEADERBOARD.md").read_text())
    # the model table and its agreement block (the per-class block below repeats the model names)
    table = md.split("### Class-conditional models", 1)[1].split("### Layout", 1)[0].split("\nPer class,", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    shown = [line.split("`")[1] for line in rows if "-fmnist" in line.split("|")[1] and " vs " not in line]
    assert sorted(shown) == sorted(TABLE6)
    header = _cells(table, "Model")
    accuracy, fd = [], []
    for model, (dive_dir, fid_dir, self_dir) in TABLE6.items():
        cells = {h: c.strip("*") for h, c in zip(header, _cells(table, f"`{model}`"))}
        dive, fid, own = (json.loads((RUNS / d / "run.json").read_text()) for d in (dive_dir, fid_dir, self_dir))
        assert dive["model"] == fid["model"] == own["model"] == model
        acc = dive["metrics"]["accuracy"]
        assert cells["DIVE: top-1 (%) [95% CI]"] == f"{100 * acc['value']:.1f} [{100 * acc['ci_low']:.1f}, " \
                                                    f"{100 * acc['ci_high']:.1f}]"
        recovered = own["metrics"]["accuracy"]
        assert own["task"].startswith(f"generated:{own['model_info']['sha256'][:16]}.")  # its own samples
        assert cells["Self-consistency (Exhaustive enumeration, 300 samples): top-1 (%) [95% CI]"] == (
            f"{100 * recovered['value']:.1f} [{100 * recovered['ci_low']:.1f}, {100 * recovered['ci_high']:.1f}]")
        fd_cell = cells["fd_fmnist (fmnist-classifier, N=5000) ↓"]
        shown = fd_cell.split(" [")[0]  # 4 significant digits: 30.33, 3.187
        decimals = len(shown.split(".")[1])
        assert shown == f"{fid['metrics']['fd_fmnist']['value']:.{decimals}f}" and len(shown.replace(".", "")) == 4
        assert len(fid["metrics"]["fd_fmnist"]["bootstrap"]) == 50  # the interval resamples generated samples
        assert cells["#Params"] == f"{fid['model_info']['params'] / 1e6:.2f}M"
        accuracy.append(acc["value"])
        fd.append(-fid["metrics"]["fd_fmnist"]["value"])  # lower is better: read in its better direction
    tau = float(kendall_tau_b(np.array(accuracy), np.array(fd)))
    fd_row = next(line for line in table.splitlines() if line.startswith("| fd_fmnist (lower is better)"))
    assert _ci(_cells(table, "fd_fmnist (lower is better)")[2])[0] == pytest.approx(tau, abs=0.005), fd_row
    assert _cells(table, "fd_fmnist (lower is better)")[1] == str(len(TABLE6))


# -- fidelity runs store bootstrap replicates --------------------------------------------------

def test_fidelity_bootstrap_replicates_vary_centre_on_the_value_and_repeat(tmp_path):
    import torch

    from dive_bench.data.fashion_mnist import load_fashion_mnist
    from dive_bench.generative.resolve import resolve_extractor
    from dive_bench.generative.metrics import bootstrap_replicates, compute_metrics

    ds = load_fashion_mnist("test", root=str(ROOT / "tests" / "data" / "fmnist-slice"))
    ext = resolve_extractor("fmnist-classifier")
    # 200 images of all classes against 112 of classes 0-4: an FD well above the resampling shift
    # (replicate FDs sit about tr(cov)/N above the value; measured FD 10.3, replicates 10.5 +- 1.2)
    ref = ds.images[250:500][ds.labels[250:500] < 5]
    m = compute_metrics(ds.images[:200], ref, ext, cache=tmp_path, bootstrap=20)
    for name in ("fd_fmnist", "is_fmnist"):
        reps = np.array(m[name]["bootstrap"])
        assert len(reps) == 20 and reps.std() > 0 and m[name]["bootstrap_seed"] == 0
        assert abs(reps.mean() - m[name]["value"]) < 0.1 * m[name]["value"], (name, reps.mean(), m[name]["value"])
    # KID and precision/recall: half-samples without replacement (their own scheme, named in the file);
    # precision is a mean over generated samples, so its half-sample replicates centre on the value
    for name in ("kid_fmnist", "precision_fmnist", "recall_fmnist"):
        assert len(m[name]["bootstrap"]) == 20 and m[name]["bootstrap_scheme"] == "half-sample", name
    precision = np.array(m["precision_fmnist"]["bootstrap"])
    assert precision.std() > 0 and abs(precision.mean() - m["precision_fmnist"]["value"]) < 0.05
    # the same seed gives the same replicates
    gen, ref = torch.rand(30, 8).numpy(), torch.rand(40, 8).numpy()
    logits = torch.randn(30, 5)
    one = bootstrap_replicates(gen, logits, ref, None, n_boot=5, splits=2, rng_seed=0)
    assert one == bootstrap_replicates(gen, logits, ref, None, n_boot=5, splits=2, rng_seed=0)
