"""Tiny runs scored in-process for the report tests (numbers-10: sklearn glyphs, no download)."""

from __future__ import annotations

import json

import pytest

from fast_runs import COARSE


@pytest.fixture(scope="session")
def numbers_runs(tmp_path_factory):
    """A DIVE run and an enumeration run of dit-numbers-10 on the first 10 numbers-10 test items
    (coarse probes: a few seconds each), as {method: run folder}."""
    from dive_bench.cli.main import main

    root = tmp_path_factory.mktemp("report-runs")
    folders = {}
    for method in ("dive", "enumerate"):
        out = root / f"numbers-10-{method}"
        rc = main(["score", "dit-numbers-10", "--task", "numbers-10", "--limit", "10", *COARSE, "--method", method,
                   "--quiet", "--out", str(out)])
        assert rc == 0
        folders[method] = out
    return folders


@pytest.fixture(scope="session")
def numbers_report(numbers_runs):
    """(the report page built from the two runs, their run.json payloads)."""
    from dive_bench.report.html import build_report

    page = build_report([p.parent for p in numbers_runs.values()][:1])
    return page, [json.loads((p / "run.json").read_text()) for p in numbers_runs.values()]
