"""Which items a run covers, and growing a run: results are stored per item under the protocol, so
a run over more items of the same protocol computes only the new ones (``spec/items.py``,
``RunSpec.protocol_key``, ``run.score.item_blocks``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dive_bench.run.score as run_score
from dive_bench.cli.main import main
from dive_bench.errors import DiveBenchError
from dive_bench.spec.items import parse_items, select_items

#: a light enumeration protocol on the bundled digits model (500 test items)
ENUM = ["score", "dit-digits-xs", "--task", "digits", "--method", "enumerate", "--interval", "100",
        "--items-per-batch", "10", "--quiet"]


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """Every item id the methods are run on, in order (the spy wraps the real computation)."""
    seen: list[int] = []
    real = run_score._run_items

    def spy(p, items):
        seen.extend(items)
        return real(p, items)

    monkeypatch.setattr(run_score, "_run_items", spy)
    return seen


def _run(out: Path, *extra: str) -> dict:
    assert main([*ENUM, "--out", str(out), *extra]) == 0
    return json.loads((out / "run.json").read_text())


def test_a_run_grows_by_computing_only_the_new_items(tmp_path, computed):
    out = tmp_path / "grow"
    first = _run(out, "--limit", "30")
    assert computed == list(range(30)) and first["items"]["ids"] == list(range(30))
    computed.clear()
    extra = _run(out, "--items", "30:40")
    assert computed == list(range(30, 40))  # only the 10 new items
    assert extra["items"]["ids"] == list(range(30, 40)) and extra["n_items"] == 10  # what this run covers
    computed.clear()
    grown = _run(out, "--limit", "40")
    assert computed == []  # everything was stored
    assert grown["items"]["ids"] == list(range(40)) and grown["status"] == "complete"
    # the same as one run of 40 items: key, items and numbers
    once = _run(tmp_path / "once", "--limit", "40")
    assert grown["run_key"] == once["run_key"]
    assert grown["items"] == once["items"] and grown["metrics"] == once["metrics"]
    # merge names the latest request's items
    assert main(["merge", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["items"]["ids"] == list(range(40))


def test_run_keys_of_prefix_runs_are_unchanged_and_protocols_ignore_items():
    """A run of the first N items keeps the key it always had (stored keys stay valid); the
    protocol key is the same for every item set of one protocol and differs across protocols."""
    from dive_bench.spec.runspec import RunSpec

    a = RunSpec("digits", "1", tuple(range(30)), "abc", "enumerate", {"interval": 100}, 0)
    b = RunSpec("digits", "1", tuple(range(40)), "abc", "enumerate", {"interval": 100}, 0)
    c = RunSpec("digits", "1", tuple(range(40)), "abc", "enumerate", {"interval": 50}, 0)
    assert a.key() != b.key() and a.protocol_key() == b.protocol_key() != c.protocol_key()
    assert a.protocol_key() not in (a.key(), b.key())


def test_a_different_protocol_in_the_same_folder_is_still_refused(tmp_path, capsys):
    out = tmp_path / "run"
    _run(out, "--limit", "10")
    assert main([*ENUM, "--out", str(out), "--items", "10:20", "--seed", "1"]) == 2
    assert "holds results of a different run" in capsys.readouterr().err


def test_blocks_follow_item_ids_not_the_selection():
    # the first N items: the blocks a run always had
    assert run_score.item_blocks(list(range(25)), 10, 0, 1) == [list(range(10)), list(range(10, 20)),
                                                               list(range(20, 25))]
    # a selection keeps each item in its block (and worker) of the full run
    assert run_score.item_blocks(list(range(15, 35)), 10, 0, 1) == [list(range(15, 20)), list(range(20, 30)),
                                                                   list(range(30, 35))]
    assert run_score.item_blocks(list(range(15, 35)), 10, 1, 2) == [list(range(15, 20)), list(range(30, 35))]


def test_item_ids_file_selects_exactly_those_items(tmp_path, computed):
    ids = tmp_path / "ids.txt"
    ids.write_text("\ufeff# items to score\n7 3\n12, 40\n")  # a BOM, a comment, spaces and commas
    run = _run(tmp_path / "file", "--item-ids", str(ids))
    assert run["items"]["ids"] == [3, 7, 12, 40] and sorted(computed) == [3, 7, 12, 40]


@pytest.mark.parametrize("argv,message", [
    (["--limit", "5", "--items", "0:5"], "--limit and --items both select items"),
    (["--items", "400:600"], "item 500 is out of range: task digits has 500 items (ids 0 to 499)"),
    (["--items", "9:3"], "the range 9:3 is empty"),
    (["--items", "1:4,3"], "item 3 is selected twice"),
    (["--items", "²:4"], "is not an item id or a range A:B"),
    (["--items", "abc"], "is not an item id or a range A:B"),
    # refused before a billion ids are built (memory before validation)
    (["--items", "0:999999999"], "item 500 is out of range"),
])
def test_bad_selections_are_one_line_exit_2(tmp_path, capsys, argv, message):
    assert main([*ENUM, "--out", str(tmp_path / "bad"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "bad" / "run.json").exists()


def test_selection_parsing(tmp_path):
    assert parse_items("300:303") == [300, 301, 302]
    assert parse_items(" 0:2 , 7 ") == [0, 1, 7]
    assert select_items(10, items=range(8, 10)) == [8, 9] and select_items(10, items=[5, 1]) == [1, 5]
    assert select_items(10, limit=50) == list(range(10))
    with pytest.raises(DiveBenchError, match="out of range"):
        select_items(10, items=range(10**12))  # refused before it is listed
    with pytest.raises(DiveBenchError, match="whole number"):
        select_items(10, items=[1.5])
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(DiveBenchError, match="holds no item ids"):
        select_items(10, item_ids=empty)
    with pytest.raises(DiveBenchError, match="cannot read it"):
        select_items(10, item_ids=tmp_path / "missing.txt")
