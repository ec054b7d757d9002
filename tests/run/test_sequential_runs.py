"""``score --sequential`` end to end on the bundled dit-digits-xs: it stops early with the right
verdict and exit code, records the decision in run.json, resumes to the same decision after a kill,
and a later run without --sequential completes it into an ordinary run."""

from __future__ import annotations

import json

import pytest

import dive_bench as db
from dive_bench.cli.main import main
from dive_bench.run import score as score_mod
from dive_bench.spec.result import RunResult
from factories import degraded_checkpoint

#: coarse enumeration (10 probes per class) over 48 digits, checked every 8 items
FAST = dict(method="enumerate", interval=100, items_per_batch=8)
FLAGS = ["--task", "digits", "--method", "enumerate", "--interval", "100", "--items-per-batch", "8", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The baseline (48 items) and a degraded copy of the checkpoint (noise 0.6 x each tensor's std)."""
    base = tmp_path_factory.mktemp("seq")
    db.evaluate("dit-digits-xs", "digits", limit=48, out=base / "baseline", **FAST)
    degraded_checkpoint("dit-digits-xs", 0.6, base / "degraded")
    return base


def _record(out):
    return json.loads((out / "run.json").read_text())


def test_a_degraded_checkpoint_fails_early_with_exit_1_and_the_verdict_table(runs, capsys, tmp_path):
    out = tmp_path / "bad"
    status = main(["score", f"dit:{runs / 'degraded'}", *FLAGS, "--sequential", "--baseline", str(runs / "baseline"),
                   "--margin", "accuracy=0.01", "--out", str(out)])
    printed = capsys.readouterr().out
    run = _record(out)
    seq = run["sequential"]
    assert status == 1 and "**dive-bench score --sequential: REGRESSION**" in printed
    assert "| accuracy |" in printed and "regression e-process crossed 1/alpha=20" in printed
    assert seq["verdict"] == "regression" and seq["settled"] and seq["crossing"]["e_process"] == "regression"
    assert seq["items_used"] < 48 and seq["items_used"] % 8 == 0 and seq["items_available"] == 48
    assert seq["crossing"]["log_wealth"] >= seq["boundary"]["log_wealth"] == pytest.approx(2.995732, abs=1e-6)
    assert run["status"] == "partial" and run["n_done"] == seq["items_used"] and run["n_items"] == 48
    # the record agrees with the outcomes stored beside it
    base = _record(runs / "baseline")["items"]
    truth = {i: int(p == y) for i, p, y in zip(base["ids"], base["predictions"], base["labels"])}
    cur = run["items"]
    d = [int(p == y) - truth[i] for i, p, y in zip(cur["ids"], cur["predictions"], cur["labels"])]
    assert (d.count(-1), d.count(1)) == (seq["discordant"]["baseline_only"], seq["discordant"]["current_only"])


def test_a_rerun_passes_early_resumes_after_a_kill_and_completes_into_an_ordinary_run(runs, tmp_path, monkeypatch):
    gate = dict(sequential=True, baseline=runs / "baseline", margins={"accuracy": 0.3})
    out = tmp_path / "rerun"
    real, calls = score_mod._score_block, []

    def killed_on_the_second_block(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(score_mod, "_score_block", killed_on_the_second_block)
    with pytest.raises(KeyboardInterrupt):
        db.evaluate("dit-digits-xs", "digits", out=out, **FAST, **gate)
    monkeypatch.setattr(score_mod, "_score_block", real)
    resumed = db.evaluate("dit-digits-xs", "digits", out=out, **FAST, **gate)
    fresh = db.evaluate("dit-digits-xs", "digits", out=tmp_path / "fresh", **FAST, **gate)
    # identical outcomes (D = 0 everywhere): the pass side crosses once 0.3 of margin has paid enough
    assert resumed.sequential["verdict"] == "pass" and resumed.sequential["crossing"]["e_process"] == "pass"
    assert resumed.sequential["items_used"] < 48
    keep = ("verdict", "items_used", "log_wealth", "crossing", "discordant")
    assert {k: resumed.sequential[k] for k in keep} == {k: fresh.sequential[k] for k in keep}
    baseline = RunResult.load(runs / "baseline" / "run.json")
    assert resumed.run_key == baseline.run_key  # the key of a full run over the baseline's items
    full = db.evaluate("dit-digits-xs", "digits", out=out, limit=48, **FAST)
    assert full.sequential is None and full.status == "complete" and full.n_done == 48
    assert full.predictions == baseline.predictions and full.run_key == baseline.run_key


def test_an_unsettled_gate_concludes_by_its_mode(tmp_path, capsys):
    """Identical outcomes and margin 0: every factor is 1, so neither side can ever cross (hand
    computation: D + m = 0 for every item); regression mode then passes, noninferiority fails."""
    db.evaluate("dit-digits-xs", "digits", limit=8, out=tmp_path / "b8", **FAST)
    gate = ["--sequential", "--baseline", str(tmp_path / "b8"), "--margin", "accuracy=0", "--out", str(tmp_path / "s")]
    assert main(["score", "dit-digits-xs", *FLAGS, *gate]) == 0
    seq = _record(tmp_path / "s")["sequential"]
    assert (seq["verdict"], seq["settled"], seq["items_used"]) == ("pass", False, 8)
    assert seq["log_wealth"] == {"regression": 0.0, "pass": 0.0} and "crossing" not in seq
    assert "not settled after 8 of 8 items: regression mode concludes pass" in seq["reason"]
    assert main(["score", "dit-digits-xs", *FLAGS, *gate, "--mode", "noninferiority"]) == 1  # replayed, no compute
    assert "**dive-bench score --sequential: REGRESSION** — not settled after 8 of 8 items" in capsys.readouterr().out


def test_options_not_given_are_the_baselines(runs, capsys, tmp_path):
    """The baseline fixes the protocol: a sequential run that names only the model and the task
    scores with the baseline's method (enumerate, not the default dive) and its options (interval
    100 here, not the default), says where they came from, and is not refused as another protocol."""
    out = tmp_path / "bare"
    status = main(["score", f"dit:{runs / 'degraded'}", "--task", "digits", "--quiet",
                   "--items-per-batch", "8", "--sequential", "--baseline", str(runs / "baseline"),
                   "--margin", "accuracy=0.01", "--out", str(out)])
    capsys.readouterr()
    run = _record(out)
    assert status == 1 and run["method"] == "enumerate" and run["method_config"]["interval"] == 100
    assert run["defaults_from"]["interval"] == f"baseline {runs / 'baseline'}"


def test_pytest_plugin_sequential_fails_a_degraded_checkpoint_and_passes_the_baselines(runs, tmp_path):
    """``dive_bench_check(..., sequential=True)``: the degraded checkpoint fails with the verdict
    table after a fraction of the items; the baseline's own checkpoint passes (not settled in 48
    items at margin 0.01, so regression mode passes); bad input is one line, not a traceback."""
    from dive_bench.pytest_plugin import dive_bench_check

    check = dive_bench_check.__wrapped__()
    with pytest.raises(pytest.fail.Exception, match=r"REGRESSION[\s\S]*\| accuracy \|[\s\S]*sequential") as failed:
        check(f"dit:{runs / 'degraded'}", baseline=runs / "baseline", margins={"accuracy": 0.01}, sequential=True,
              out=tmp_path / "bad", items_per_batch=8)
    assert "crossed 1/alpha=20" in str(failed.value)
    assert RunResult.load(tmp_path / "bad" / "run.json").sequential["items_used"] < 48
    verdict = check("dit-digits-xs", baseline=runs / "baseline", margins={"accuracy": 0.01}, sequential=True,
                    out=tmp_path / "same", items_per_batch=8)
    assert verdict.status == 0 and verdict.metrics[0].current == verdict.metrics[0].baseline
    with pytest.raises(pytest.fail.Exception, match="--margin") as refused:
        check("dit-digits-xs", baseline=runs / "baseline", sequential=True, out=tmp_path / "none")
    assert "\n" not in str(refused.value).strip()
    with pytest.raises(TypeError, match="only apply with sequential=True"):
        check(runs / "baseline", baseline=runs / "baseline", out=tmp_path / "x")
