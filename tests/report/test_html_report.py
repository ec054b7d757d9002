"""`dive-bench report`: the page's sections, its offline-ness, in-place notices, the CLI's refusals,
and the page as headless Chromium renders it (screenshot, sections in the DOM, no console errors)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser import dom_and_errors, find_chromium, screenshot
from cli_checks import cli_error

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "leaderboards" / "runs"


def section_ids(page: str) -> list[str]:
    return re.findall(r'<section id="([a-z-]+)">', page)


def test_page_from_tiny_runs_has_its_sections_and_needs_no_network(numbers_report):
    page, runs = numbers_report
    assert section_ids(page) == ["leaderboard", "cost", "monitor", "errors"]
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must load nothing from a network"
    # the leaderboard table holds both runs' accuracies, as the Markdown leaderboard prints them
    for run in runs:
        assert f"{100 * run['metrics']['accuracy']['value']:.1f}" in page
    # every figure and gallery image is embedded
    assert page.count('src="data:image/png;base64,') >= 3


def test_error_cards_name_truth_prediction_other_method_and_visited(numbers_report):
    page, runs = numbers_report
    dive = next(r for r in runs if r["method"] == "dive")
    enum = next(r for r in runs if r["method"] == "enumerate")
    other = dict(zip(enum["items"]["ids"], enum["items"]["predictions"]))
    for item_id, pred, truth, trace in zip(dive["items"]["ids"], dive["items"]["predictions"], dive["items"]["labels"],
                                           dive["items"]["trace"]):
        if pred == truth:
            continue
        card = re.search(rf'data-item="{item_id}"[^>]*>.*?</figure>', page)
        assert card
        text = re.sub(r"<[^>]+>", " ", card.group(0))
        assert f"true {truth}" in text and f"said {pred}" in text
        assert f"enumerate: {other[item_id]}" in text
        assert "visited: " + " → ".join(map(str, trace["visited"])) in text


def test_missing_images_are_said_in_place_and_tables_still_render(tmp_path, monkeypatch):
    src = RUNS / "dit-fmnist-s-dive" / "run.json"
    (tmp_path / "run").mkdir()
    shutil.copy(src, tmp_path / "run" / "run.json")
    monkeypatch.setenv("DIVE_BENCH_FMNIST_ROOT", str(tmp_path / "no-such-folder"))
    from dive_bench.report.html import build_report

    page = build_report([tmp_path / "run"])
    assert "Images not available on this machine" in page and "DIVE_BENCH_FMNIST_ROOT" in page
    assert "<table" in page and "62.3" in page  # the stored accuracy, 187/300


def test_cli_writes_the_page_and_refuses_bad_output(numbers_runs, tmp_path, capsys):
    from dive_bench.cli.main import main

    out = tmp_path / "r" / "report.html"
    assert main(["report", str(numbers_runs["dive"]), "--out", str(out), "--quiet"]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    err = cli_error(capsys, ["report", str(numbers_runs["dive"]), "--out", str(tmp_path / "report.txt")])
    assert "--out" in err and "html" in err
    err = cli_error(capsys, ["report", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "x.html")])
    assert "does not exist" in err
    assert not (tmp_path / "x.html").exists()


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed (Debian package chromium; .ci/run installs it)")
def test_page_renders_in_chromium_without_errors(numbers_report, tmp_path):
    page, _ = numbers_report
    path = tmp_path / "report.html"
    path.write_text(page)
    dom, errors = dom_and_errors(path)
    assert errors == []
    for sid in ("leaderboard", "cost", "monitor", "errors"):
        assert f'id="{sid}"' in dom
    png = tmp_path / "shot.png"
    screenshot(path, png, width=1280, height=900)
    shot = np.asarray(Image.open(png).convert("RGB"))
    assert shot.shape[:2] == (900, 1280)
    header = shot[5:40, 5:600]  # the dark page header (#1d2330) is painted at the top
    assert abs(header.reshape(-1, 3).mean(0) - np.array([0x1d, 0x23, 0x30])).max() < 25
    assert shot.std() > 20  # not a blank page


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed (Debian package chromium; .ci/run installs it)")
def test_the_stored_report_renders_every_section_without_errors():
    """leaderboards/report.html (the stored fmnist, numbers, canvas-det, fidelity and sweep runs):
    every section in the rendered DOM, no console or resource errors, galleries with images."""
    dom, errors = dom_and_errors(ROOT / "leaderboards" / "report.html")
    assert errors == []
    assert section_ids(dom) == ["leaderboard", "cost", "monitor", "sweeps", "per-class", "errors", "detection",
                                "samples"]
    for task in ("fmnist", "numbers-10", "numbers-1000", "canvas-det", "canvas-det-sized"):
        assert f"<h3>{task}</h3>" in dom
    assert "Images not available" not in dom  # every gallery found its images (datasets, leaderboards/samples)
    assert dom.count('class="sample misread"') > 50 and dom.count("<figure") > 1000


def test_an_item_without_an_answer_is_shown_as_such(tmp_path):
    """run.json stores null for an item a method gave no answer; its card says so (no traceback)."""
    from dive_bench.report.html import build_report

    run = json.loads((RUNS / "numbers-10-dive" / "run.json").read_text())
    run["items"]["predictions"][0] = None
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text(json.dumps(run))
    page = build_report([tmp_path / "run"])
    card = re.search(r'data-item="0"[^>]*>.*?</figure>', page)
    assert card and "said no answer" in re.sub(r"<[^>]+>", " ", card.group(0))
