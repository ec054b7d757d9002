"""``spec.result.RunResult`` is run.json's one reader: its accessors, metric direction, label space,
type checks on load, and a check that no other module reads run.json keys itself.

The check (:func:`raw_reads`) walks the syntax trees of the modules that read run.json files --
``report``, ``run``, ``cli``, the ``generated:`` task, the API and the pytest plugin -- and flags
every subscript (``run["metrics"]``) and every ``.get`` / ``.pop`` / ``.setdefault`` call
(``run.get("model_info")``) whose key is a string constant naming a top-level run.json key
(:data:`TOP_KEYS`) and whose receiver is rooted at a name runs go by in this code base
(:data:`RUN_NAMES`: ``run``, ``r``, ``payload``, ``fid``, ``current``, ``x.payload``, ...). Rooted means
through subscripts, attributes and calls: ``runs[0]["task"]``, ``table.score.get(m)["model"]``,
``run.get("items")["ids"]`` all count.

Its limits (what it cannot see, so a zero here is a floor, not a proof):
- a run under another name (``item["metrics"]``, ``x.get("env")``) or reached through an alias of
  a nested value (``items = run.get("items")`` is caught; ``items["ids"]`` after it is not: the
  second level is not a top-level key);
- keys that are not string constants (``run[key]``, ``getattr``), and ``in`` tests (``"metrics" in run``);
- dicts that are not run.json but use a run name and a top-level key (they would be flagged: the
  sweep report's rows were renamed ``row`` for that reason).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from dive_bench.errors import DiveBenchError
from dive_bench.spec.result import HIGHER_IS_BETTER, RunResult, default_higher_is_better, higher_is_better
from factories import run_json, score_run

PACKAGE = Path(__file__).resolve().parents[2] / "dive_bench"
#: where run.json is read (the RunResult module itself excluded)
READERS = ("report", "run", "cli", "tasks/generated.py", "api.py", "pytest_plugin.py")
#: every top-level key a run.json has had (``_path``: the key ``load_runs`` once added)
TOP_KEYS = {"schema", "run_key", "model", "task", "task_version", "method", "method_config", "seed", "protocol",
            "status", "n_items", "n_done", "n_failed", "failed_items", "metrics", "metric_info", "model_info",
            "timings", "env", "created", "shards", "method_choice", "items", "kind", "reference",
            "feature_extractor", "samples", "checkpoint", "label_space", "_path"}
RUN_NAMES = {"run", "runs", "payload", "r", "rs", "a", "b", "fid", "fids", "f", "fs", "current", "baseline",
             "reference", "first", "kept", "legacy", "auto", "table"}


def _root(node: ast.AST) -> str | None:
    """The name an expression is rooted at through subscripts, attributes and method calls
    ("payload" for any ``x.payload``)."""
    while True:
        if isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Attribute):
            if node.attr == "payload":
                return "payload"
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func.value
        else:
            return node.id if isinstance(node, ast.Name) else None


def raw_reads(source: str) -> list[tuple[int, str]]:
    """(line, key) of every raw run.json key read in ``source`` (see the module docstring)."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        key = receiver = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key, receiver = node.slice.value, node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("get", "pop", "setdefault") and node.args and isinstance(node.args[0], ast.Constant)):
            key, receiver = node.args[0].value, node.func.value
        if isinstance(key, str) and key in TOP_KEYS and _root(receiver) in RUN_NAMES:
            hits.append((node.lineno, key))
    return sorted(hits)


def _reader_files() -> list[Path]:
    files = []
    for part in READERS:
        path = PACKAGE / part
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_the_check_sees_raw_reads():
    """It could fail: each form of raw read it claims to catch is caught, and the accessors are not."""
    source = '''
run["metrics"]; run.get("model_info"); (r.get("items") or {}).get("ids"); runs[0]["task"]
table.score.get(m)["model"]; auto.payload["timings"]; payload.pop("shards", None)
run.metrics; run.metric("accuracy"); cfg["metrics"]; run["not_a_run_key"]
'''
    assert sorted(k for _, k in raw_reads(source)) == sorted(["metrics", "model_info", "items", "task", "model",
                                                              "timings", "shards"])


def test_no_module_but_the_runresult_module_reads_run_json_keys():
    """Was 211 raw reads in these modules before RunResult owned the reading (200 in report/run/cli)."""
    found = {str(p.relative_to(PACKAGE)): raw_reads(p.read_text()) for p in _reader_files()}
    assert len(found) > 20  # the walk found the modules
    assert {p: hits for p, hits in found.items() if hits} == {}


def test_higher_is_better_declared_first_then_one_default_table():
    declared = run_json(model="m", task="t", method="fidelity", method_config={}, n_items=1,
                        metrics={"fd_x": {"value": 1.0}, "is": {"value": 2.0}},
                        metric_info={"primary": "fd_x", "higher_is_better": {"fd_x": True}})
    legacy = run_json(model="m", task="t", method="fidelity", method_config={}, n_items=1,
                      metrics={"fd_x": {"value": 1.0}, "kid": {"value": 0.1}})
    a, b = RunResult(declared), RunResult(legacy)
    assert a.higher_is_better("fd_x") is True  # the file's own word wins over the table
    assert b.higher_is_better("fd_x") is False and b.higher_is_better("kid") is False
    assert b.higher_is_better("accuracy") is True and b.higher_is_better("something_new") is True
    assert [default_higher_is_better(m) for m in ("fid", "fd_dinov2", "is", "precision", "ap")] == [
        False, False, True, True, True]
    assert set(HIGHER_IS_BETTER) >= {"accuracy", "ap", "fid", "fd", "kid", "is", "precision", "recall"}
    assert higher_is_better([b, a], "fd_x") is True  # a table: the first run that declares it
    assert higher_is_better([b], "fd_x") is False


def test_label_space_stored_or_inferred_for_older_files():
    stored = RunResult({**score_run("m", 1, 20), "label_space": {"kind": "class", "num_classes": 7, "names": ["a"]}})
    assert (stored.label_space.kind, stored.label_space.num_classes, stored.label_space.names) == ("class", 7, ("a",))
    assert not stored.label_space.inferred
    older = RunResult(score_run("m", 1, 20))  # model_info.num_classes 10, class outcomes
    assert (older.label_space.kind, older.label_space.num_classes, older.label_space.inferred) == ("class", 10, True)
    layout = RunResult(run_json(model="l", task="canvas-det", method="dive", method_config={}, n_items=1,
                                metrics={"ap": {"value": 0.5}}, model_info={"adapter": "layout"}))
    assert layout.label_space.kind == "layout" and layout.label_space.num_classes is None
    boxes = RunResult(run_json(model="l", task="t", method="dive", method_config={}, n_items=1, metrics={},
                               items={"ids": [0], "predictions": [[]], "labels": [{"annotations": []}]}))
    assert boxes.label_space.kind == "layout"


def test_accessors_read_the_layout_every_writer_uses():
    run = RunResult(score_run("m-s", 20_000, 24))
    assert (run.model, run.task, run.method, run.seed, run.status, run.complete) == ("m-s", "fmnist", "dive", 0,
                                                                                      "complete", True)
    assert (run.n_items, run.n_done, run.n_failed, run.params, run.model_sha256) == (40, 40, 0, 20_000, "sha-m-s")
    assert run.model_id == "sha-m-s" and run.primary[0] == "accuracy" and run.value("accuracy") == 0.6
    assert (run.evaluations_per_item, run.seconds_per_item, run.precision, run.device) == (1000.0, 0.5, "fp32", None)
    assert run.outcomes()[0] == (0, 0) and len(run.item_ids) == 40 and run.checkpoint_step is None
    assert run.protocol == RunResult.of(run.payload).protocol and run.kind == "score"
    assert RunResult.of(run) is run and RunResult.of({"model": "x"}).model_id == "name:x"
    bare = RunResult({"model": "x", "task": "t", "method": "dive", "metrics": {}})
    assert (bare.method_config, bare.timing("seconds_per_item"), bare.created, bare.samples) == ({}, None, "", None)


@pytest.mark.parametrize("key, value", [("metrics", {"accuracy": 0.5}), ("metrics", {"accuracy": {"value": "x"}}),
                                        ("method_config", ["steps", 3]), ("items", {"ids": "0-39"}),
                                        ("model_info", "m"), ("n_items", "40"), ("checkpoint", 4)])
def test_a_wrong_type_is_one_line_naming_the_file_and_key(tmp_path, key, value):
    payload = {**score_run("m", 1, 20), key: value}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(DiveBenchError) as err:
        RunResult.load(path)
    text = str(err.value)
    assert str(path) in text and key in text and "\n" not in text
