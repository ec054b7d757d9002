"""--method auto, --stages dc and the cost model behind them (dive_bench.inversion.cost, dive_bench.run.auto)."""

import json

import pytest
import torch

import dive_bench as db
from dive_bench.inversion import cost
from dive_bench.run import auto
from dive_bench.adapters import load_model
from dive_bench.spec.configs import DiveConfig, EnumerationConfig
from dive_bench.errors import DiveBenchError
from dive_bench.inversion import ProbeSet, enumerate_classes, invert

from cli_checks import cli_error


def test_scaled_stages_follow_diffusion_classifiers_imagenet_schedule():
    # by hand from DC's schedule (50/100/500/1000 of 1000 samples; keep 500/50/10/1 of 1000 classes)
    assert cost.scaled_stages(1000, 1000) == ((50, 500), (100, 50), (500, 10), (1000, 1))
    assert cost.scaled_stages(1000, 10) == ((1, 500), (1, 50), (5, 10), (10, 1))
    # keep 50, 5, 1, 1: the 5-probe stage keeps as many as the last one, so it is dropped
    assert cost.scaled_stages(100, 10) == ((1, 50), (1, 5), (10, 1))
    assert cost.scaled_stages(10, 10) == ((1, 5), (10, 1))
    assert cost.scaled_stages(1000, 250) == ((13, 500), (25, 50), (125, 10), (250, 1))


def test_enumeration_cost_by_hand():
    assert cost.enumeration_evaluations(1000, 10, None) == 10_000
    assert cost.enumeration_evaluations(1000, 10, ((1, 500), (1, 50), (5, 10), (10, 1))) == 1000 + 50 * 4 + 10 * 5
    assert cost.dive_evaluations(10, 200, 25, 10) == (20 * 10, 3 * 10 * 200)  # batch capped at the 10 probes
    assert cost.dive_evaluations(10, 45, 2, 10) == (5 * 10, 3 * 2 * 45)       # a last, partial loop is monitored


@pytest.fixture(scope="module")
def digits():
    from dive_bench.data.base import to_model_range
    from dive_bench.tasks import TASKS

    adapter = load_model("dit-digits-xs")
    data = TASKS.get("digits").load(None)
    x0 = adapter.encode(to_model_range(data.images[:4]))
    return adapter, x0, ProbeSet.build(tuple(x0.shape[1:]), interval=100)


def test_predicted_evaluations_match_what_the_methods_count(digits):
    adapter, x0, probes = digits
    k, p = len(adapter.vocabulary["class"]), len(probes)
    stages = cost.scaled_stages(k, p)
    counted = enumerate_classes(adapter, x0, probes, EnumerationConfig.of(interval=100, stages=stages))
    assert {r.evaluations for r in counted} == {cost.enumeration_evaluations(k, p, stages)}
    cfg = DiveConfig.of(interval=100, steps=12, probes_per_step=3, monitor_every=5)
    monitor, train = cost.dive_evaluations(p, cfg.steps, cfg.probes_per_step, cfg.monitor_every)
    for r in invert(adapter, x0, probes, cfg, seeds=[1, 2, 3, 4]):
        # training is exact; the monitor reuses scores of classes it has seen: at most the bound
        assert train <= r.evaluations <= train + monitor
        assert r.evaluations - train >= p  # at least one monitor pass was paid


def test_choose_takes_the_fewest_predicted_seconds_and_says_why():
    a = cost.Candidate("exhaustive enumeration", "enumerate", {}, 1000)
    b = cost.Candidate("DIVE", "dive", {}, 100, 600)
    best, record = cost.choose([a, b], fwd_s=1e-3, train_s=1e-3)
    assert best is b and record["chosen"] == "DIVE" and "700 evaluations" in record["reason"]
    # when training evaluations are measured 3x dearer, DIVE (100 + 3 x 600 eval-equivalents) loses
    best, record = cost.choose([a, b], fwd_s=1e-3, train_s=3e-3)
    assert best is a and record["candidates"][1]["predicted_seconds"] == pytest.approx(0.1 + 1.8)


def _timings(fwd, train):
    return lambda *a, **k: (fwd, train)


def test_auto_is_a_run_of_the_chosen_method_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1e-3, 1e-3))
    run = db.evaluate("dit-digits-xs", "digits", method="auto", limit=4, interval=100, out=tmp_path / "auto")
    choice = run.payload["method_choice"]
    # K = 10, 10 probes: adaptive (10 + 5 x 9 = 55) beats exhaustive (100) and DIVE (flat ~6,200)
    assert choice["chosen"] == "adaptive enumeration" and run.payload["method"] == "enumerate"
    assert run.payload["method_config"]["stages"] == [[1, 5], [10, 1]]
    assert run.payload["timings"]["evaluations_per_item"] == 55
    explicit = db.evaluate("dit-digits-xs", "digits", method="enumerate", limit=4, interval=100,
                           stages=((1, 5), (10, 1)))
    assert explicit.run_key == run.run_key and explicit.metrics == run.metrics
    # the choice is made once per folder: a resumed run keeps it even if timings now favour another
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1.0, 1e-9))
    again = db.evaluate("dit-digits-xs", "digits", method="auto", limit=4, interval=100, out=tmp_path / "auto")
    assert again.run_key == run.run_key
    stored = json.loads((tmp_path / "auto" / auto.CHOICE_FILE).read_text())
    assert stored["chosen"] == "adaptive enumeration"


def test_auto_picks_dive_when_its_budget_is_the_cheapest(monkeypatch):
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1e-3, 1e-3))
    run = db.evaluate("dit-digits-xs", "digits", method="auto", limit=2, interval=100, guard=0,  # cost alone
                      dive={"steps": 4, "probes_per_step": 1, "monitor_every": 2})
    assert run.payload["method"] == "dive" and run.payload["method_choice"]["chosen"] == "DIVE"
    assert run.payload["method_config"]["steps"] == 4


#: a DIVE budget below adaptive enumeration's 55 evaluations (K = 10, 10 probes): one step, one monitor pass
TINY_DIVE = {"steps": 1, "probes_per_step": 1, "monitor_every": 1}


def test_guard_rejects_dive_when_enumeration_finds_better_scoring_classes(tmp_path, monkeypatch):
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1e-3, 1e-3))
    run = db.evaluate("dit-digits-xs", "digits", method="auto", limit=4, interval=100, dive=TINY_DIVE,
                      out=tmp_path / "auto")
    choice = run.payload["method_choice"]
    guard = choice["guard"]
    # DIVE (13 evaluations) was the cheapest, but one step from a random start rarely lands on the best class
    assert choice["candidates"][2]["name"] == "DIVE" and choice["candidates"][2]["forward_evals"] == 10
    assert guard["images"] == 4 and guard["max_misses"] == 1 and guard["misses"] > 1
    assert guard["misses"] == len(guard["missed"]) and "rejected" in guard["decision"]
    assert choice["chosen"] == "adaptive enumeration" and run.payload["method"] == "enumerate"
    assert run.payload["method_config"]["stages"] == [[1, 5], [10, 1]]
    assert choice["reason"].startswith("DIVE rejected") and "DIVE rejected" in guard["reason"]
    # each miss: enumeration's answer (the run's prediction) scores lower than DIVE's on the same probes
    preds = dict(zip(run.payload["items"]["ids"], run.payload["items"]["predictions"]))
    for miss in guard["missed"]:
        assert miss["enumerate_score"] < miss["dive_score"] and miss["enumerate"] == preds[miss["item"]]
    # guard evaluations: DIVE's + adaptive enumeration's 55 per image
    assert guard["evaluations"] > 4 * 55
    # stored once per folder: a resumed run keeps the guard's choice without running it again
    monkeypatch.setattr(auto, "accuracy_guard", None)
    again = db.evaluate("dit-digits-xs", "digits", method="auto", limit=4, interval=100, dive=TINY_DIVE,
                        out=tmp_path / "auto")
    assert again.run_key == run.run_key and again.payload["method_choice"]["guard"] == guard
    assert json.loads((tmp_path / "auto" / auto.CHOICE_FILE).read_text())["guard"]["misses"] == guard["misses"]


def test_guard_keeps_dive_within_its_misses_with_the_runs_own_answers(monkeypatch):
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1e-3, 1e-3))
    # verify = K scores every class on all probes, so DIVE finds enumeration's argmin: no miss
    # (its budget is then above enumeration's, so the cost model is told it is small)
    monkeypatch.setattr(auto, "dive_evaluations", lambda *a, **k: (1, 0))
    run = db.evaluate("dit-digits-xs", "digits", method="auto", limit=4, interval=100, dive={**TINY_DIVE, "verify": 10})
    guard = run.payload["method_choice"]["guard"]
    assert run.payload["method"] == "dive" and guard["misses"] == 0 and guard["decision"] == "DIVE kept"
    # the guard ran the run's DIVE (same seeds, blocks and probes): its evaluations are the run's plus enumeration's
    assert guard["evaluations"] == pytest.approx(4 * run.payload["timings"]["evaluations_per_item"] + 4 * 55)
    # the tiny search misses, but within --guard-misses 4 DIVE is kept, with the answers the run stores
    monkeypatch.undo()
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1e-3, 1e-3))
    run = db.evaluate("dit-digits-xs", "digits", method="auto", limit=4, interval=100, dive=TINY_DIVE, guard_misses=4)
    guard = run.payload["method_choice"]["guard"]
    assert run.payload["method"] == "dive" and 1 < guard["misses"] <= 4
    preds = run.payload["items"]["predictions"]
    assert all(miss["dive"] == preds[miss["item"]] for miss in guard["missed"])


def test_guard_judges_accuracy_on_the_tasks_dev_split_when_it_has_one(monkeypatch):
    """A task with a dev split: the guard scores the dev images and counts, with their labels,
    images DIVE loses to adaptive enumeration (misses) and wins from it; DIVE is kept while the net
    loss is within --guard-misses."""
    import dataclasses

    from dive_bench.tasks import TASKS

    digits = TASKS.get("digits")
    tasks = {"digits-with-dev": dataclasses.replace(digits, name="digits-with-dev", dev="digits-as-dev"),
             "digits-as-dev": dataclasses.replace(digits, name="digits-as-dev", split="test")}
    real_get = TASKS.get
    monkeypatch.setattr(TASKS, "get", lambda name: tasks.get(name) or real_get(name))
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1e-3, 1e-3))
    labels = digits.load(None).labels
    for max_net in (0, 8):
        run = db.evaluate("dit-digits-xs", "digits-with-dev", method="auto", limit=2, interval=100, dive=TINY_DIVE,
                          guard=8, guard_misses=max_net)
        guard = run.payload["method_choice"]["guard"]
        assert guard["images_from"] == "digits-as-dev" and guard["images"] == 8 and "dev split" in guard["rule"]
        for lost in guard["missed"]:
            assert lost["dive"] != labels[lost["item"]] == lost["enumerate"] == lost["label"]
        for won in guard["won"]:
            assert won["enumerate"] != labels[won["item"]] == won["dive"] == won["label"]
        assert guard["misses"] == len(guard["missed"]) and guard["wins"] == len(guard["won"])
        kept = guard["misses"] - guard["wins"] <= max_net
        assert (run.payload["method"] == "dive") == kept == (guard["decision"] == "DIVE kept")
    # one step from a random start loses images: with no net loss allowed DIVE is rejected
    assert guard["misses"] > guard["wins"] and run.payload["method"] == "dive"


def test_guard_0_takes_the_cheapest_unchecked(monkeypatch):
    monkeypatch.setattr(auto, "seconds_per_evaluation", _timings(1e-3, 1e-3))
    run = db.evaluate("dit-digits-xs", "digits", method="auto", limit=2, interval=100, dive=TINY_DIVE, guard=0)
    guard = run.payload["method_choice"]["guard"]
    assert run.payload["method"] == "dive" and guard["decision"] == "not run" and "--guard 0" in guard["reason"]
    assert guard["images"] == guard["evaluations"] == 0
    # an enumeration as the cheapest needs no guard
    run = db.evaluate("dit-digits-xs", "digits", method="auto", limit=2, interval=100)
    assert run.payload["method_choice"]["guard"]["reason"] == "Not run: the cheapest candidate is an enumeration."


def test_guard_options_are_checked(tmp_path, capsys):
    for options, flag in (({"guard": -1}, "--guard"), ({"guard_misses": 1.5}, "--guard-misses"),
                          ({"guard": True}, "--guard")):
        with pytest.raises(DiveBenchError, match=rf"^{flag} \(\w+\) must be an integer >= 0"):
            db.evaluate("dit-digits-xs", "digits", method="auto", limit=1, interval=100, **options)
    msg = cli_error(capsys, ["score", "dit-digits-xs", "--task", "digits", "--method", "auto", "--guard", "-1",
                             "--limit", "1", "--out", str(tmp_path / "g")])
    assert "--guard (guard) must be an integer >= 0" in msg and "got -1" in msg
    msg = cli_error(capsys, ["score", "dit-digits-xs", "--task", "digits", "--guard-misses", "3", "--limit", "1",
                             "--out", str(tmp_path / "d")])
    assert "--guard-misses" in msg and "--method auto" in msg


def test_stages_dc_resolves_to_the_scaled_schedule(tmp_path):
    run = db.evaluate("dit-digits-xs", "digits", method="enumerate", limit=2, interval=100, stages="dc")
    assert run.payload["method_config"]["stages"] == [[1, 5], [10, 1]]


def test_auto_routes_each_flat_option_to_the_methods_that_have_it():
    per = auto.split_options({"steps": 7, "probes_per_step": 2, "eval_batch": 64, "interval": 50, "stages": "dc",
                              "dive": {"lr": 0.1}})
    assert per["dive"] == {"lr": 0.1, "steps": 7, "probes_per_step": 2, "eval_batch": 64, "interval": 50}
    assert per["enumerate"] == {"eval_batch": 64, "interval": 50, "stages": "dc"}


def test_auto_refuses_unknown_options_and_layout_models(tmp_path, capsys):
    with pytest.raises(DiveBenchError, match="no option 'stpes'. Did you mean 'steps'"):
        db.evaluate("dit-digits-xs", "digits", method="auto", limit=2, stpes=3)
    # before the rename batch_size was DIVE's probes per step but enumeration's forward chunk
    with pytest.raises(DiveBenchError, match=r"probes_per_step \(dive\) or eval_batch \(enumerate\)"):
        db.evaluate("dit-digits-xs", "digits", method="auto", limit=2, batch_size=3)
    msg = cli_error(capsys, ["score", "layout-canvas-s", "--task", "canvas-det", "--method", "auto", "--limit", "1",
                     "--out", str(tmp_path / "x")])
    assert "layout model" in msg and "--method dive" in msg


def test_verify_needs_a_single_class_slot(tmp_path, capsys):
    msg = cli_error(capsys, ["score", "layout-canvas-s", "--task", "canvas-det", "--verify", "3", "--limit", "1",
                             "--steps", "1", "--out", str(tmp_path / "v")])
    assert "--verify" in msg and "condition slots" in msg


def test_verify_is_in_dives_cost_bound():
    assert cost.dive_evaluations(10, 100, 1, 10, verify=30) == ((10 + 30) * 10, 300)
    # staged: 100 entries on 1 probe, the best 5 on the other 9 (scaled_stages(100, 10) by hand)
    assert cost.scaled_stages(100, 10) == ((1, 50), (1, 5), (10, 1))
    assert cost.dive_evaluations(10, 100, 1, 10, verify=100, verify_schedule="dc") == (10 * 10 + 100 + 5 * 9, 300)


def test_verify_without_snapping_is_refused(tmp_path, capsys):
    msg = cli_error(capsys, ["score", "dit-digits-xs", "--task", "digits", "--verify", "3", "--no-snap",
                             "--limit", "1", "--out", str(tmp_path / "v")])
    assert "--verify" in msg and "--no-snap" in msg
