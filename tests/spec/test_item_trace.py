"""run.json ``items.trace``: what a run keeps of each item's search (spec/item_trace.py)."""

from __future__ import annotations

import math

from dive_bench.spec.item_trace import VISITED, trace_of, traces


def test_dive_trace_keeps_visit_order_once_per_class_and_the_curve():
    row = {"prediction": 4, "evaluations": 310, "best_step": 20, "steps_run": 30,
           "monitor_curve": [[10, 0.123456789], [20, 0.1], [30, 0.25]], "visited": [7, 3, 7, 4, 3, 4]}
    assert trace_of(row) == {"evaluations": 310, "best_step": 20, "visited": [7, 3, 4], "n_visited": 3,
                             "monitor": [[10, 0.123457], [20, 0.1], [30, 0.25]]}


def test_long_visits_are_cut_but_counted():
    row = {"visited": list(range(25))}
    trace = trace_of(row)
    assert trace["visited"] == list(range(VISITED)) and trace["n_visited"] == 25


def test_layout_visits_are_not_classes_and_nan_monitor_values_are_null():
    row = {"visited": [[1, 2, 3], [1, 2, 4]], "monitor_curve": [[5, math.nan], [10, 0.5]]}
    assert trace_of(row) == {"monitor": [[5, None], [10, 0.5]]}


def test_enumeration_ranks_the_lowest_errors_and_skips_non_finite():
    row = {"prediction": 2, "evaluations": 1000, "scores": [0.5, math.inf, 0.1, None, 0.3, math.nan]}
    assert trace_of(row) == {"evaluations": 1000, "top": [2, 4, 0]}


def test_runs_without_anything_to_keep_write_no_trace_list():
    assert traces([{"prediction": 1}, {"prediction": 2}]) == {}
    assert traces([{"prediction": 1}, {"prediction": 2, "evaluations": 5}]) == {"trace": [None, {"evaluations": 5}]}
